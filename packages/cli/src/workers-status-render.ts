/**
 * The readable form of `sluice status` (`renderStatus`): the workers, then one row per task and
 * per further part of a task (the downstream part of a regrouping pipeline), then hints.
 */

import { ago } from './top.ts';
import type { SlotStatus, WorkersStatus } from './workers-status.ts';

/** A size in bytes, short: 512 B, 12.3 kB, 4.1 MB. */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(1)} GB`;
}

const list = (ns: readonly number[]) => (ns.length === 0 ? '-' : ns.join(','));
const num = (n: number | null) => (n === null ? '-' : n.toLocaleString('en'));

/** Columns padded to their widest cell; the ones in `right` aligned right. */
function table(head: readonly string[], rows: readonly string[][], right: ReadonlySet<string>): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (right.has(head[i]) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

/** The readable form of `status` (what `sluice status` prints without `--format json`). */
export function renderStatus(status: WorkersStatus): string {
  const members = status.workers.filter((w) => w.inGroup).length;
  const out = [
    `pipeline ${status.pipeline}: group ${status.group} (${status.groupState}), ${members} worker${members === 1 ? '' : 's'} in the group, ` +
      `${status.tasks.length} task${status.tasks.length === 1 ? '' : 's'} (partitions of ${status.taskTopic})`,
    '',
    ...table(
      ['WORKER', 'GROUP', 'HOST', 'PARTITIONS', 'TASKS', 'LAG', 'STATE'],
      status.workers.map((w) => [
        w.worker,
        w.inGroup ? 'member' : 'left',
        w.host ?? '-',
        list(w.partitions),
        list(w.tasks),
        num(w.lag),
        bytes(w.stateBytes),
      ]),
      new Set(['LAG', 'STATE']),
    ),
    '',
    ...table(
      [
        'TASK',
        'ASSIGNED',
        'OWNER',
        'STATUS',
        'EPOCH',
        'LEASE',
        'CHECKPOINT',
        'AGE',
        'LAG',
        'STATE',
        'RESTARTS',
      ],
      status.tasks.flatMap((t) => [
        slotRow(String(t.task), t.assignedTo, t),
        // A regrouping pipeline's downstream part: its own slot, reading the repartition topic.
        ...t.parts.map((p) => slotRow(`${t.task}/${p.part}`, t.assignedTo, p)),
      ]),
      new Set(['EPOCH', 'AGE', 'LAG', 'STATE', 'RESTARTS']),
    ),
    '',
    ...hints(status),
    status.unowned.length === 0
      ? `every task has a live owner`
      : `${status.unowned.length} task${status.unowned.length === 1 ? '' : 's'} without a live owner: ${status.unowned.join(', ')}`,
    '',
  ];
  return out.join('\n');
}

/** What the reader of the table should know before the last line, when something is off. */
function hints(status: WorkersStatus): string[] {
  const out: string[] = [];
  if (!status.workers.some((w) => w.inGroup)) {
    out.push(
      `no worker is in the group (${status.groupState}): start workers with \`sluice run <pipeline> --worker-id ID --checkpoint-store <url>\``,
    );
  } else if (status.tasks.every((t) => t.state === 'not started')) {
    out.push('the store has no task of this pipeline: do the workers use this --checkpoint-store?');
  }
  if (status.tasks.some((t) => t.state === 'lease expired')) {
    out.push(
      "lease expired: its owner was killed or is stuck; the task moves after the group's session timeout",
    );
  }
  return out;
}

/** One row of the task table: a task's slot, or one of its further parts'. */
function slotRow(name: string, assignedTo: string | null, t: SlotStatus): string[] {
  return [
    name,
    assignedTo ?? '-',
    t.owner ?? '-',
    t.state,
    String(t.epoch),
    t.leaseLeftMs === null
      ? '-'
      : t.released
        ? 'released'
        : t.leaseLeftMs >= 0
          ? ago(t.leaseLeftMs)
          : `ran out ${ago(-t.leaseLeftMs)} ago`,
    t.checkpoint ? `#${t.checkpoint.id}${t.checkpoint.unreadable ? ' unreadable' : ''}` : '-',
    t.checkpoint ? ago(t.checkpoint.ageMs) : '-',
    num(t.lagTotal),
    t.checkpoint ? bytes(t.stateBytes) : '-',
    String(t.restarts),
  ];
}
