/**
 * What a checkpoint belongs to, and whether a pipeline may restore it.
 *
 * A checkpoint's source positions mean something only for the data they were taken on, and an
 * operator's state only for the options it was built with. So each checkpoint records a
 * fingerprint: every source with its type and a digest of each option that decides which data
 * it reads (`SourceSpec.identity`, else every option), and every step that keeps state with its
 * type and a digest of each option that shapes that state (`StepSpec.state`, else every option).
 * Digests, not values, so no secret reaches the checkpoint file.
 *
 * The rule: a checkpoint is refused when a source or stateful step it has is gone (or keeps no
 * state now), has another type, or has another value for a compared option. Everything else is
 * safe and restores: stateless steps (a changed map expression), sinks and outputs (a changed
 * path: sinks restore their own state), options outside the identity (a file source's format),
 * and new sources and stateful steps (they start from their beginning, with empty state).
 */

import { createHash } from 'node:crypto';
import type { Plan } from '../plan/plan.ts';
import type { Registry } from '../registry.ts';

/** One source or stateful step in a fingerprint. */
export interface ComponentPrint {
  readonly type: string;
  /** Digest of each compared option's value (`-` when the option is absent). */
  readonly options: { readonly [option: string]: string };
  /** The spec declares no option list: every option present was recorded. */
  readonly allOptions?: boolean;
}

/** What a checkpoint belongs to (see the module comment). */
export interface PipelineFingerprint {
  readonly sources: { readonly [id: string]: ComponentPrint };
  /** Steps whose operator keeps state. */
  readonly steps: { readonly [id: string]: ComponentPrint };
}

/**
 * The fingerprint of a resolved plan (configs validated, defaults applied). `stateful` says
 * whether the operator of a step keeps state (has a snapshot).
 */
export function fingerprintOf(
  plan: Plan,
  registry: Registry,
  stateful: (stepId: string) => boolean,
): PipelineFingerprint {
  const sources: { [id: string]: ComponentPrint } = {};
  for (const src of plan.sources) {
    sources[src.id] = print(src.type, src.config, registry.source(src.type)?.identity);
  }
  const steps: { [id: string]: ComponentPrint } = {};
  for (const step of plan.steps) {
    if (stateful(step.id)) steps[step.id] = print(step.type, step.config, registry.step(step.type)?.state);
  }
  return { sources, steps };
}

/**
 * Why a checkpoint with fingerprint `saved` cannot be restored by a pipeline with `current`, one
 * sentence per difference; empty when it can. When both sides recorded every option, an option
 * present on one side only is a change; otherwise options are compared where both sides have
 * them, so a Sluice version that declares or narrows a spec's option list still restores older
 * checkpoints.
 */
export function fingerprintChanges(saved: PipelineFingerprint, current: PipelineFingerprint): string[] {
  return [
    ...changes('source', saved.sources, current.sources, 'its positions'),
    ...changes('step', saved.steps, current.steps, 'its state'),
  ];
}

/**
 * The checks possible for a checkpoint written before fingerprints: its sources and stateful
 * steps must still exist (types and options were not recorded).
 */
export function missingComponents(
  saved: { readonly sources: object; readonly operators: object },
  current: PipelineFingerprint,
): string[] {
  const gone: string[] = [];
  for (const id of Object.keys(saved.sources))
    if (!Object.hasOwn(current.sources, id)) gone.push(`source '${id}' is no longer in the pipeline`);
  for (const id of Object.keys(saved.operators))
    if (!Object.hasOwn(current.steps, id))
      gone.push(`step '${id}' is no longer in the pipeline or keeps no state`);
  return gone;
}

function changes(
  kind: 'source' | 'step',
  saved: PipelineFingerprint['sources'],
  current: PipelineFingerprint['sources'],
  held: string,
): string[] {
  const out: string[] = [];
  for (const [id, was] of Object.entries(saved)) {
    const name = `${kind} '${id}' (${was.type})`;
    const now = Object.hasOwn(current, id) ? current[id] : undefined;
    if (now === undefined) {
      const gone =
        kind === 'source' ? 'is no longer in the pipeline' : 'is no longer in the pipeline or keeps no state';
      out.push(`${name} ${gone}, but the checkpoint holds ${held}`);
      continue;
    }
    if (now.type !== was.type) {
      out.push(`${name} is now of type '${now.type}'`);
      continue;
    }
    const union = was.allOptions === true && now.allOptions === true;
    const options = union
      ? [...new Set([...Object.keys(was.options), ...Object.keys(now.options)])].sort()
      : Object.keys(was.options);
    const differ = options.filter((option) => {
      if (!union && !Object.hasOwn(now.options, option)) return false;
      return (now.options[option] ?? '-') !== (was.options[option] ?? '-');
    });
    if (differ.length > 0) {
      const list = differ.map((o) => `'${o}'`).join(', ');
      out.push(`${name}: option${differ.length > 1 ? 's' : ''} ${list} changed since the checkpoint`);
    }
  }
  return out;
}

function print(type: string, config: unknown, keys: readonly string[] | undefined): ComponentPrint {
  const values = typeof config === 'object' && config !== null ? (config as { [k: string]: unknown }) : {};
  const options: { [option: string]: string } = {};
  for (const key of keys ?? Object.keys(values).sort()) options[key] = digest(values[key]);
  return keys === undefined ? { type, options, allOptions: true } : { type, options };
}

/** A short digest of a JSON value, the same whatever the order of its object keys. */
function digest(value: unknown): string {
  if (value === undefined) return '-';
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
