/**
 * Building a job's operator graph from a resolved plan: one node per step, in topological
 * order, each wired to the steps that read it.
 */

import type { StepInfo } from '../operator.ts';
import { expressionAt } from '../plan/expressions.ts';
import { type Plan, parseStreamRef, refId } from '../plan/plan.ts';
import { inComponent, stepsInOrder } from '../plan/resolve.ts';
import type { Registry } from '../registry.ts';
import { sideOutputsOf } from '../spec.ts';
import type { Clock } from '../time.ts';
import { type Edge, type FailureRouter, Node } from './graph.ts';
import type { SinkRunner } from './sink-runner.ts';
import type { SourceWatermarks } from './watermarks.ts';

export interface OperatorGraph {
  readonly nodes: ReadonlyMap<string, Node>;
  /** Every node after its inputs: the order watermarks travel in. */
  readonly order: readonly Node[];
  /** Steps and sinks that read each source directly (sinks are added when opened). */
  readonly sourceTargets: ReadonlyMap<string, { nodes: Edge[]; sinks: SinkRunner[] }>;
  /**
   * Sources with an operator downstream that follows the watermark (has `onWatermark`): their
   * batches carry the watermark before each record (`Batch.watermarks`); others need not.
   */
  readonly watchedSources: ReadonlySet<string>;
  /**
   * Sources whose records reach some step by two of its inputs (a diamond): their batches carry
   * each record's place in the source's input (`Batch.seqs`), the order that step merges the
   * branches in.
   */
  readonly sequencedSources: ReadonlySet<string>;
  /**
   * Lets the steps that read two branches of one source take what they held of the batch just
   * pushed (see `Node.flush`), in topological order. Call it after each source batch.
   */
  flush(): void;
  /** The asynchronous steps, in topological order. */
  readonly asyncNodes: readonly Node[];
}

/**
 * Creates every step's operator and wires the nodes, each reading the watermarks of the sources
 * upstream of it from `clocks`. The plan must have passed `resolvePlan` (types registered,
 * inputs exist, no cycle, expressions parsed: factories compile the plan's trees). Operator
 * factories throw on bad step configs (an expression that does not type-check, a schema that does
 * not load).
 */
export function buildOperatorGraph(
  plan: Plan,
  registry: Registry,
  failures: FailureRouter,
  clock: Clock,
  functions: ReadonlyMap<string, unknown>,
  clocks: SourceWatermarks,
): OperatorGraph {
  const nodes = new Map<string, Node>();
  const ordered: Node[] = [];
  const now = () => clock.now();
  // The sources upstream of each step and of each of its inputs, in the plan's order.
  const upstream = new Map<string, readonly string[]>();
  const holdsOf = new Map<string, readonly Node[]>();
  const sequencedSources = new Set<string>();
  for (const src of plan.sources) upstream.set(src.id, [src.id]);
  for (const step of stepsInOrder(plan.steps)) {
    const id = step.id;
    // A side output's readers have the producing step's sources, hence its watermark.
    const inputSources = step.inputs.map((input) => upstream.get(refId(input))!);
    const sources = [...new Set(inputSources.flat())].sort();
    upstream.set(id, sources);
    const unseen = inputSources.map((seen) => sources.filter((s) => !seen.includes(s)));
    // Asynchronous steps upstream: the inputs that are, and what holds the inputs back.
    const holds = [
      ...new Set(
        step.inputs.flatMap((ref) => {
          const input = refId(ref);
          const from = nodes.get(input);
          if (from === undefined) return [];
          return from.operator.async !== undefined ? [from, ...holdsOf.get(input)!] : holdsOf.get(input)!;
        }),
      ),
    ];
    const merges = inputSources.some((a, i) =>
      inputSources.some((b, j) => j > i && a.some((s) => b.includes(s))),
    );
    for (const s of sources)
      if (inputSources.filter((seen) => seen.includes(s)).length > 1) sequencedSources.add(s);
    const info: StepInfo = {
      id,
      inputs: step.inputs,
      inputModes: step.inputs.map((ref) => plan.modes?.[ref] ?? 'append'),
      baseDir: plan.baseDir,
      clock,
      expression: (path) => expressionAt(step.expressions, id, path),
      functions,
      lookup: (type) => registry.lookup(type),
      lookupTypes: () => registry.types('lookup'),
    };
    const spec = registry.step(step.type)!;
    const operator = inComponent(id, () => spec.create(step.config as never, info));
    const ports = sideOutputsOf(spec, step.config).map((p) => p.name);
    // Steps given TypeScript functions (map_fn, process, …) are the ones `functions` names.
    const node = new Node(
      id,
      operator,
      { sources, unseen, clocks, merges, holds, ports },
      failures,
      now,
      functions.has(id),
    );
    nodes.set(id, node);
    holdsOf.set(id, holds);
    ordered.push(node);
  }
  const sourceTargets = new Map<string, { nodes: Edge[]; sinks: SinkRunner[] }>();
  for (const src of plan.sources) sourceTargets.set(src.id, { nodes: [], sinks: [] });
  for (const step of plan.steps) {
    const node = nodes.get(step.id)!;
    step.inputs.forEach((ref, port) => {
      const input = parseStreamRef(ref);
      const from = nodes.get(input.id);
      if (from === undefined) sourceTargets.get(input.id)!.nodes.push({ node, port });
      else if (input.port === undefined) from.steps.push({ node, port });
      else from.ports.get(input.port)!.steps.push({ node, port });
    });
  }
  const watchedSources = new Set<string>();
  for (const [source, targets] of sourceTargets) {
    const seen = new Set<Node>();
    const stack = targets.nodes.map((e) => e.node);
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (seen.has(node)) continue;
      seen.add(node);
      if (node.operator.onWatermark) {
        watchedSources.add(source);
        break;
      }
      for (const e of node.readers()) stack.push(e.node);
    }
  }
  const merging = ordered.filter((n) => n.merges);
  const flush = () => {
    for (let i = 0; i < merging.length; i++) merging[i].flush();
  };
  const asyncNodes = ordered.filter((n) => n.operator.async !== undefined);
  return { nodes, order: ordered, sourceTargets, watchedSources, sequencedSources, flush, asyncNodes };
}
