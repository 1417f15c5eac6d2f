/**
 * The changelog check: every step and sink takes the changelog mode of its input.
 *
 * Sources give appends, but those that read a table's changes (`SourceSpec.changelog`). Each step declares, for its config, the modes it consumes and the mode it
 * produces (`StepSpec.changelog`; absent: appends in, appends out); each sink the modes it
 * consumes (`SinkSpec.changelog`; absent: appends only). The check follows the modes through the
 * plan in topological order and refuses an updating stream into a step or sink that does not take
 * it, naming the step that made the stream updating and what would take it. A side output
 * (`<step>.<port>`) is a stream of its own, of the mode its port declares (`SideOutput.produces`).
 */

import type { Registry } from '../registry.ts';
import { CHANGELOG_MODES, type ChangelogMode, type StepChangelog, sideOutputsOf } from '../spec.ts';
import type { Plan } from './plan.ts';
import { stepsInOrder } from './resolve.ts';

/** One refused connection: a PLAN_CHANGELOG_MISMATCH of `step` at `path` in its config. */
export interface ChangelogProblem {
  readonly step: string;
  readonly path: string;
  readonly message: string;
}

/** The mode of one step's output, and the step that first made it updating. */
interface StreamMode {
  readonly mode: ChangelogMode;
  /** The step (or source) whose output first had this mode; absent for appends. */
  readonly origin?: {
    readonly id: string;
    readonly type: string;
    readonly reason?: string;
    readonly source?: true;
  };
}

const APPEND: StreamMode = { mode: 'append' };
const APPEND_ONLY: StepChangelog = { consumes: ['append'], produces: 'append' };

function rank(mode: ChangelogMode): number {
  return CHANGELOG_MODES.indexOf(mode);
}

/** `only appends`, `appends and retract streams`, … */
function describeModes(modes: readonly ChangelogMode[]): string {
  const names = CHANGELOG_MODES.filter((m) => modes.includes(m)).map((m) =>
    m === 'append' ? 'appends' : `${m} streams`,
  );
  if (names.length === 1) return names[0] === 'appends' ? 'only appends' : `only ${names[0]}`;
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

function describeStream(input: string, stream: StreamMode): string {
  const origin = stream.origin!;
  const what = origin.source ? 'source' : 'step';
  const made = origin.id === input ? '' : ` (made updating by ${what} '${origin.id}')`;
  const why = origin.reason ? `: ${origin.reason}` : '';
  return `its input '${input}'${made} is a ${stream.mode} changelog — it has updates and deletes, not only inserts — because ${what} '${origin.id}' (${origin.type}) emits one${why}`;
}

/**
 * Returns the connections that refuse their input's changelog mode. `plan` must have passed
 * resolution (types registered, configs validated, inputs exist, no cycle). `modes`, when given,
 * receives the mode of every stream (sources, steps, side outputs by `<step>.<port>`).
 */
export function checkChangelogs(
  plan: Plan,
  registry: Registry,
  modes?: Map<string, ChangelogMode>,
): ChangelogProblem[] {
  const problems: ChangelogProblem[] = [];
  const streams = new Map<string, StreamMode>();
  for (const source of plan.sources) {
    const changelog = registry.source(source.type)?.changelog?.(source.config as never);
    streams.set(
      source.id,
      changelog === undefined
        ? APPEND
        : {
            mode: changelog.mode,
            origin: { id: source.id, type: source.type, reason: changelog.reason, source: true },
          },
    );
  }
  for (const step of stepsInOrder(plan.steps)) {
    const id = step.id;
    const declared = registry.step(step.type)?.changelog?.(step.config as never) ?? APPEND_ONLY;
    let input = step.inputs[0];
    let stream = APPEND;
    for (const name of step.inputs) {
      const s = streams.get(name) ?? APPEND;
      if (rank(s.mode) > rank(stream.mode)) {
        stream = s;
        input = name;
      }
    }
    if (!declared.consumes.includes(stream.mode)) {
      problems.push({
        step: id,
        path: 'input',
        message: `step '${id}' (${step.type}) takes ${describeModes(declared.consumes)}, but ${describeStream(input, stream)}; ${
          stream.origin!.source
            ? `read it with steps that take ${stream.mode} streams`
            : `put '${id}' before '${stream.origin!.id}', or make '${stream.origin!.id}' emit appends`
        }`,
      });
      // Report each refused connection once: what follows is judged as if this step were fine.
      stream = APPEND;
    }
    const spec = registry.step(step.type);
    const modeOf = (produces: ChangelogMode | 'input', reason?: string): StreamMode => {
      if (produces === 'input') return stream;
      if (produces === 'append') return APPEND;
      return { mode: produces, origin: { id, type: step.type, ...(reason ? { reason } : {}) } };
    };
    streams.set(id, modeOf(declared.produces, declared.reason));
    // Each side output is a stream of its own, with the mode its port declares.
    for (const port of sideOutputsOf(spec, step.config))
      streams.set(`${id}.${port.name}`, modeOf(port.produces ?? 'append'));
  }
  if (modes !== undefined) for (const [ref, stream] of streams) modes.set(ref, stream.mode);
  const takers = registry
    .all()
    .filter((s) => s.kind === 'sink' && s.changelog !== undefined && s.changelog.hint !== '')
    .map((s) => s.type);
  for (const sink of plan.sinks) {
    const stream = streams.get(sink.input) ?? APPEND;
    if (stream.mode === 'append') continue;
    const spec = registry.sink(sink.type);
    const consumes = spec?.changelog?.consumes(sink.config) ?? ['append'];
    if (consumes.includes(stream.mode)) continue;
    const fix = spec?.changelog
      ? `to write the changes, ${spec.changelog.hint}`
      : `a '${sink.type}' sink cannot write changes; ${
          takers.length > 0
            ? `sink types that can: ${takers.join(', ')} (with their \`changelog\` option)`
            : 'no registered sink type can'
        }`;
    problems.push({
      step: sink.id,
      path: spec?.changelog ? 'changelog' : 'type',
      message: `sink '${sink.id}' (${sink.type}) takes ${describeModes(consumes)}, but ${describeStream(sink.input, stream)}; ${fix}`,
    });
  }
  return problems;
}
