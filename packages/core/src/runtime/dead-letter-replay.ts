/**
 * Replaying dead letters into a running job: each selected letter's payload goes back to the
 * input of the step or sink that rejected it, after the cause was fixed (a lookup table filled,
 * a sink's constraint relaxed).
 */

import type { DeadLetter } from '../record.ts';
import type { OperatorGraph } from './operator-graph.ts';
import type { SinkRunner } from './sink-runner.ts';

/** A dead letter of this run and its number (the first of a run is 1). */
export interface NumberedDeadLetter {
  readonly id: number;
  readonly letter: DeadLetter;
}

/** What `Job.replayDeadLetters` did with each id it was given. */
export interface ReplayResult {
  /** Ids whose payload went back into the pipeline. */
  replayed: number[];
  /** Ids that did not, and why. */
  refused: { id: number; reason: string }[];
}

/** Why `letter` cannot go back to where it failed, or undefined when it can. */
function notReplayable(
  letter: DeadLetter,
  graph: OperatorGraph,
  sinks: ReadonlyMap<string, SinkRunner>,
  inputs: ReadonlyMap<string, number>,
) {
  if (letter.code === 'LATE_RECORD')
    return 'a late record would be late again: the watermark has passed its time';
  if (letter.kind !== undefined)
    return `a '${letter.kind}' change of an updating stream is not replayed apart from its pair`;
  if (sinks.has(letter.step)) return undefined;
  const node = graph.nodes.get(letter.step);
  if (node === undefined)
    return `'${letter.step}' is a source or an output: the record failed before a step saw it; send it again upstream`;
  if ((inputs.get(letter.step) ?? 1) > 1)
    return `step '${letter.step}' reads several inputs and the letter does not say which one the record came on`;
  if (typeof letter.payload !== 'object' || letter.payload === null || Array.isArray(letter.payload))
    return 'the payload is not a record (it was kept as text)';
  return undefined;
}

/**
 * Pushes each selected letter's payload into the step (or sink queue) that rejected it, one
 * record at a time in id order, with its event time (or `now` when it had none). Ids not among
 * `recent`, already in `replayed`, or not replayable are refused with a reason; `inputs` has the
 * number of inputs of each step. Must be called between batches while the job runs.
 */
export function replayDeadLetters(
  ids: readonly number[],
  recent: readonly NumberedDeadLetter[],
  replayed: Set<number>,
  graph: OperatorGraph,
  sinks: ReadonlyMap<string, SinkRunner>,
  inputs: ReadonlyMap<string, number>,
  now: number,
): ReplayResult {
  const result: ReplayResult = { replayed: [], refused: [] };
  const byId = new Map(recent.map((e) => [e.id, e.letter]));
  for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
    const letter = byId.get(id);
    if (letter === undefined) {
      result.refused.push({ id, reason: 'no such dead letter among the recent ones of this run' });
      continue;
    }
    if (replayed.has(id)) {
      result.refused.push({ id, reason: 'already replayed' });
      continue;
    }
    const why = notReplayable(letter, graph, sinks, inputs);
    if (why !== undefined) {
      result.refused.push({ id, reason: why });
      continue;
    }
    const batch = { records: [letter.payload as Record<string, unknown>], times: [letter.eventTime ?? now] };
    const sink = sinks.get(letter.step);
    if (sink) sink.enqueue(batch);
    else {
      graph.nodes.get(letter.step)!.push(batch);
      graph.flush();
    }
    replayed.add(id);
    result.replayed.push(id);
  }
  return result;
}
