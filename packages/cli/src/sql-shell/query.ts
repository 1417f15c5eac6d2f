/**
 * A `SELECT` in the shell: compiled with the session into a job whose only sink hands its batches
 * to the shell, run until its input ends or the shell stops it, and shown as it runs — redrawn
 * in place (table or changelog mode) on a terminal, or printed row by row (tableau form).
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CHANGELOG_MODES,
  defineSink,
  Job,
  type Plan,
  type Plugin,
  type SinkBatch,
  silentLogger,
  Type,
} from '@sluice/core';
import { describeError } from './errors.ts';
import { type Change, type FrameStatus, frame, ResultTable, Tableau } from './result-view.ts';
import { RESULT_TABLE, type Session } from './session.ts';

/** The component type of the shell's result sink. */
export const RESULT_SINK = 'shell_result';

/** Where a query's result goes, and how. */
export interface QueryOutput {
  write(text: string): void;
  /** Redraw in place (a terminal) rather than print rows as they come. */
  readonly live: boolean;
  /** The terminal's size, for a live frame. */
  size(): { readonly width: number; readonly height: number };
  /** Milliseconds between redraws of a live frame. */
  readonly redrawInterval?: number;
}

/** A plugin with the one sink type that hands each batch written to `take`. */
export function resultPlugin(take: (batch: SinkBatch) => void): Plugin {
  const sink = defineSink({
    type: RESULT_SINK,
    summary: "Hands a query's rows to the SQL shell that runs it.",
    delivery: 'at-least-once',
    changelog: { consumes: () => CHANGELOG_MODES, hint: '' },
    config: Type.Object({}, { additionalProperties: false }),
    create() {
      return {
        async open() {},
        async write(batch: SinkBatch) {
          take(batch);
          return undefined;
        },
        async close() {},
      };
    },
  });
  return { name: 'sql-shell', components: [sink] };
}

/** The changes of one written batch. */
function changesOf(batch: SinkBatch): Change[] {
  return batch.records.map((row, i) => {
    const key = batch.keys?.[i];
    return { kind: batch.kinds?.[i] ?? 0, row, ...(key !== undefined ? { key } : {}) };
  });
}

/**
 * Runs the query `select` (its text, without `;`) over the session's tables until its input ends
 * or `signal` aborts (Ctrl-C), showing its result on `out`; false when it failed. Never throws:
 * an error is printed, with a caret under its place.
 */
export async function runQuery(
  session: Session,
  select: string,
  out: QueryOutput,
  signal: AbortSignal,
  batchSize?: number,
): Promise<boolean> {
  const script = session.script(select, `INSERT INTO ${RESULT_TABLE}\n`);
  let take: (batch: SinkBatch) => void = () => {};
  let plan: Plan;
  let job: Job;
  let dir: string | undefined;
  let columns: string[];
  try {
    const registry = await session.registry(
      script.text,
      resultPlugin((b) => take(b)),
    );
    ({ plan, columns } = session.planQuery(script, registry, RESULT_SINK));
    // A query keeps no checkpoints: each run starts its sources from the beginning.
    dir = await mkdtemp(join(tmpdir(), 'sluice-shell-'));
    const settings = {
      ...plan.settings,
      checkpoint: { ...plan.settings.checkpoint, interval: 0, dir },
      ...(batchSize !== undefined ? { batchSize } : {}),
    };
    job = await Job.create({ ...plan, settings }, { registry, log: silentLogger, fromScratch: true, signal });
  } catch (err) {
    out.write(describeError(err, script));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    return false;
  }
  const result = new ResultTable(columns);
  const started = performance.now();
  const mode = out.live ? session.resultMode : 'tableau';
  const tableau = mode === 'tableau' ? new Tableau(columns) : undefined;
  if (tableau) out.write(tableau.header());
  take = (batch) => {
    for (const change of changesOf(batch)) {
      result.apply(change);
      if (tableau) out.write(tableau.row(change));
    }
  };
  let drawn = 0;
  const draw = (state: FrameStatus['state']) => {
    if (mode === 'tableau') return;
    const lines = frame(result, mode, out.size(), { state, seconds: (performance.now() - started) / 1000 });
    out.write(`${drawn > 0 ? `\x1b[${drawn}A\r` : ''}\x1b[J${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  draw('running');
  const timer = setInterval(() => draw('running'), out.redrawInterval ?? 100);
  let state: FrameStatus['state'];
  let failure: unknown;
  try {
    const ended = await job.run();
    state = ended.status === 'completed' ? 'completed' : 'stopped';
  } catch (err) {
    state = 'failed';
    failure = err;
  } finally {
    clearInterval(timer);
    await rm(dir, { recursive: true, force: true });
  }
  draw(state);
  if (tableau) {
    const n = result.changeCount;
    out.write(
      `${tableau.border()}Received a total of ${n} row${n === 1 ? '' : 's'}${state === 'stopped' ? ' (stopped)' : ''}\n`,
    );
  }
  if (failure !== undefined) out.write(describeError(failure, script));
  return failure === undefined;
}
