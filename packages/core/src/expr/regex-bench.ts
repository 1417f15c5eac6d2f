/**
 * Micro-benchmark of user patterns: RE2 (`re2js`, what the regexp_* functions, LIKE and JSON
 * Schema `pattern` run on) next to V8's backtracking RegExp on ordinary patterns, both compiled
 * once, over 1,024 short log-like strings. Prints matches per CPU-second and the ratio.
 *
 * Run: node packages/core/src/expr/regex-bench.ts
 */

import { RE2JS } from 're2js';

const STRINGS = 1024;
const ROUNDS = 300;

const words = ['GET', 'POST', 'error', 'warning', 'user', 'order', 'timeout', 'ok', 'eu-west', 'us-east'];
const inputs = Array.from({ length: STRINGS }, (_, i) => {
  const w = (k: number) => words[(i * 7 + k * 3) % words.length];
  return `2026-05-01T12:${String(i % 60).padStart(2, '0')}:00Z ${w(1)} /api/${w(2)}/${i} ${w(3)} id=${i * 31} ${w(4)}@example.com`;
});

interface Case {
  name: string;
  pattern: string;
  flags?: string;
  op: 'test' | 'extract' | 'replace';
}

const cases: Case[] = [
  { name: 'literal', pattern: 'timeout', op: 'test' },
  { name: 'alternation', pattern: 'error|warning|timeout', op: 'test' },
  { name: 'anchored class', pattern: '^\\d{4}-\\d{2}-\\d{2}T', op: 'test' },
  { name: 'case-insensitive', pattern: 'EU-WEST', flags: 'i', op: 'test' },
  { name: 'wildcards (LIKE %GET%order%)', pattern: '^.*GET.*order.*$', flags: 's', op: 'test' },
  { name: 'extract group', pattern: 'id=(\\d+)', op: 'extract' },
  { name: 'email-ish', pattern: '[\\w.]+@[\\w.]+\\.com', op: 'extract' },
  { name: 'replace all digits', pattern: '\\d+', flags: 'g', op: 'replace' },
];

function run(name: string, once: (s: string) => unknown): number {
  let sink = 0;
  const loop = (rounds: number) => {
    for (let r = 0; r < rounds; r++) for (let i = 0; i < STRINGS; i++) if (once(inputs[i])) sink++;
  };
  loop(30);
  const start = process.cpuUsage();
  loop(ROUNDS);
  const used = process.cpuUsage(start);
  const seconds = (used.user + used.system) / 1e6;
  if (sink < 0) console.log(name);
  return (STRINGS * ROUNDS) / seconds;
}

function re2Bits(flags: string): number {
  let bits = 0;
  if (flags.includes('i')) bits |= RE2JS.CASE_INSENSITIVE;
  if (flags.includes('s')) bits |= RE2JS.DOTALL;
  return bits;
}

console.log(`node ${process.version}, ${STRINGS} strings × ${ROUNDS} rounds`);
console.log(`${'case'.padEnd(30)} ${'V8 RegExp'.padStart(12)} ${'RE2 (re2js)'.padStart(12)}  RE2/V8`);
for (const c of cases) {
  const flags = c.flags ?? '';
  const v8 = new RegExp(c.pattern, flags);
  const re2 = RE2JS.compile(c.pattern, re2Bits(flags));
  const global = flags.includes('g');
  let v8Run: (s: string) => unknown;
  let re2Run: (s: string) => unknown;
  if (c.op === 'test') {
    v8Run = (s) => v8.test(s);
    re2Run = (s) => re2.test(s);
  } else if (c.op === 'extract') {
    v8Run = (s) => v8.exec(s)?.[1] ?? v8.exec(s)?.[0];
    re2Run = (s) => {
      const m = re2.exec(s);
      return m?.[1] ?? m?.[0];
    };
  } else {
    v8Run = (s) => s.replace(v8, '#');
    re2Run = (s) => (global ? re2.matcher(s).replaceAll('#') : re2.matcher(s).replaceFirst('#'));
  }
  for (const s of inputs.slice(0, 50)) {
    if (String(v8Run(s)) !== String(re2Run(s))) throw new Error(`${c.name}: engines disagree on '${s}'`);
  }
  const a = run(`${c.name} v8`, v8Run);
  const b = run(`${c.name} re2`, re2Run);
  const m = (x: number) => `${(x / 1e6).toFixed(2)} M/s`;
  console.log(`${c.name.padEnd(30)} ${m(a).padStart(12)} ${m(b).padStart(12)}  ${(b / a).toFixed(2)}`);
}
