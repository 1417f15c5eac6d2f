/**
 * The jobs an `INSERT INTO` starts from the shell: they run in the background while the shell
 * takes more statements; `SHOW JOBS` lists them and `STOP JOB '<id>'` stops one (drain, final
 * checkpoint), as in Flink's client.
 */

import { Job, type Plan, type Registry, silentLogger } from '@sluice/core';
import { describeError } from './errors.ts';
import type { SessionScript } from './session.ts';

export interface ShellJob {
  readonly id: string;
  /** The statement that started it, on one line. */
  readonly statement: string;
  readonly job: Job;
  readonly startedAt: number;
  /** How it ended, once it has. */
  ended?: 'completed' | 'stopped' | 'failed';
  /** Why it failed. */
  error?: string;
  /** Settles when the job has ended (it never rejects). */
  done: Promise<void>;
}

export class ShellJobs {
  readonly #jobs: ShellJob[] = [];
  readonly #reported = new Set<string>();
  #next = 1;

  get all(): readonly ShellJob[] {
    return this.#jobs;
  }

  /**
   * Creates the job of `plan` and starts it without waiting for it; it is named `<name>-<id>` so
   * that two jobs of one session keep their checkpoints apart, and starts from scratch.
   */
  async start(plan: Plan, registry: Registry, statement: string, script: SessionScript): Promise<ShellJob> {
    const id = String(this.#next);
    const job = await Job.create(
      { ...plan, name: `${plan.name}-${id}` },
      { registry, log: silentLogger, fromScratch: true },
    );
    this.#next++;
    const entry: ShellJob = {
      id,
      statement: statement.replace(/\s+/g, ' '),
      job,
      startedAt: Date.now(),
      done: Promise.resolve(),
    };
    entry.done = job.run().then(
      (r) => {
        entry.ended = r.status;
      },
      (err: unknown) => {
        entry.ended = 'failed';
        entry.error = describeError(err, script).trim();
      },
    );
    this.#jobs.push(entry);
    return entry;
  }

  /** The job `id`; undefined when there is none. */
  find(id: string): ShellJob | undefined {
    return this.#jobs.find((j) => j.id === id);
  }

  /** `SHOW JOBS`: each job with its status, records in and out, and statement. */
  describe(): string {
    if (this.#jobs.length === 0) return 'No jobs: INSERT INTO … starts one.\n';
    const rows = this.#jobs.map((j) => {
      const m = j.job.metrics();
      const status = j.ended ?? j.job.status;
      return [j.id, status, String(m.recordsIn), String(m.recordsOut), j.statement];
    });
    const head = ['id', 'status', 'in', 'out', 'statement'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === 4 ? 0 : r[i].length))));
    const line = (r: string[]) => r.map((v, i) => (i === 4 ? v : v.padEnd(widths[i]))).join('  ');
    const errors = this.#jobs.filter((j) => j.error !== undefined).map((j) => `job ${j.id}: ${j.error}`);
    return `${[line(head), ...rows.map(line), ...errors].join('\n')}\n`;
  }

  /** A line for each job that ended since the last call: the shell prints them before its prompt. */
  news(): string {
    let out = '';
    for (const j of this.#jobs) {
      if (j.ended === undefined || this.#reported.has(j.id)) continue;
      this.#reported.add(j.id);
      out += `[job ${j.id}] ${j.ended}${j.error !== undefined ? `: ${j.error}` : ''}\n`;
    }
    return out;
  }

  /** Marks job `id` as reported (its end was printed by the statement that ended it). */
  reported(id: string): void {
    this.#reported.add(id);
  }

  /** Stops every running job and waits for them (the shell is ending). */
  async stopAll(): Promise<void> {
    for (const j of this.#jobs) if (j.ended === undefined) j.job.stop();
    await Promise.all(this.#jobs.map((j) => j.done));
  }
}
