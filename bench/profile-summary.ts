/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`, `bench:kafka --profile`): self time by
 * function and by file, and total time (with callees) by function, heaviest first — enough to see
 * where a benchmark's time goes without opening DevTools. Given a sampling heap profile
 * (`bench:kafka --profile DIR --allocations`), it lists the bytes allocated by each function
 * (and per record, with `--records N`) instead.
 *
 *   node bench/profile-summary.ts PROFILE.cpuprofile [--top 30]
 *   node bench/profile-summary.ts PROFILE.heapprofile [--top 30] [--records 400000]
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A sampling heap profile: a call tree whose nodes carry the bytes allocated there. */
interface HeapNode {
  callFrame: ProfileNode['callFrame'];
  selfSize: number;
  children: HeapNode[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' }, records: { type: 'string' } },
});
if (positionals.length !== 1) {
  console.error('usage: node bench/profile-summary.ts PROFILE.cpuprofile [--top 30]');
  process.exit(2);
}
const top = Number(values.top);
const parsed = JSON.parse(readFileSync(positionals[0], 'utf8')) as Profile | { head: HeapNode };
if ('head' in parsed) {
  summarizeAllocations(parsed.head, values.records === undefined ? undefined : Number(values.records));
  process.exit(0);
}
const profile = parsed;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url
    .replace(/^file:\/\/.*?\/node_modules\//, '')
    .replace(/^file:\/\/.*?\/packages\//, 'packages/');
  return `${functionName || '(anonymous)'}  ${file ? `${file}:${lineNumber + 1}` : ''}`;
}

const selfByFunction = new Map<string, number>();
const totalByFunction = new Map<string, number>();
const selfByFile = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]);
  const dt = profile.timeDeltas[i] ?? 0;
  if (!node) continue;
  total += dt;
  const { functionName, url } = node.callFrame;
  const file = url
    .replace(/^file:\/\/.*?\/node_modules\//, '')
    .replace(/^file:\/\/.*?\/packages\//, 'packages/');
  const fn = label(node);
  selfByFunction.set(fn, (selfByFunction.get(fn) ?? 0) + dt);
  // Inclusive time: every function on the sample's stack, once (recursion counts once).
  const seen = new Set<string>();
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    const n = byId.get(id);
    if (!n) break;
    const l = label(n);
    if (seen.has(l)) continue;
    seen.add(l);
    totalByFunction.set(l, (totalByFunction.get(l) ?? 0) + dt);
  }
  const group = file === '' ? `(${functionName})` : file;
  selfByFile.set(group, (selfByFile.get(group) ?? 0) + dt);
}

function print(title: string, table: Map<string, number>): void {
  console.log(`\n${title}`);
  for (const [name, us] of [...table].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`,
    );
  }
}

console.log(`total ${(total / 1000).toFixed(0)} ms sampled`);
print('self time by function', selfByFunction);
print('self time by file', selfByFile);
print('total time (self and callees) by function', totalByFunction);

/** Bytes allocated by each function (and its caller), heaviest first. */
function summarizeAllocations(head: HeapNode, records: number | undefined): void {
  const bySite = new Map<string, number>();
  let bytes = 0;
  const walk = (node: HeapNode, caller: string) => {
    const here = label({ id: 0, callFrame: node.callFrame });
    bytes += node.selfSize;
    if (node.selfSize > 0) {
      const site = `${here}  ← ${caller}`;
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(head, '');
  const per = (b: number) => (records ? `${(b / records).toFixed(0).padStart(6)} B/record  ` : '');
  console.log(`${(bytes / 1e6).toFixed(1)} MB allocated (sampled)${records ? `, ${per(bytes).trim()}` : ''}`);
  for (const [site, b] of [...bySite].sort((x, y) => y[1] - x[1]).slice(0, top)) {
    console.log(
      `${((100 * b) / bytes).toFixed(1).padStart(5)}%  ${(b / 1e6).toFixed(1).padStart(7)} MB  ${per(b)}${site}`,
    );
  }
}
