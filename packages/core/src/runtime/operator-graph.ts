/**
 * Building a job's operator graph from a resolved plan: one node per step, in topological
 * order, each wired to the steps that read it.
 */

import type { StepInfo } from '../operator.ts';
import type { Plan } from '../plan/plan.ts';
import { inComponent, topologicalOrder } from '../plan/resolve.ts';
import type { Registry } from '../registry.ts';
import type { Clock } from '../time.ts';
import { type FailureRouter, Node } from './graph.ts';
import type { SinkRunner } from './sink-runner.ts';

export interface OperatorGraph {
  readonly nodes: ReadonlyMap<string, Node>;
  /** Every node after its inputs: the order watermarks travel in. */
  readonly order: readonly Node[];
  /** Steps and sinks that read each source directly (sinks are added when opened). */
  readonly sourceTargets: ReadonlyMap<string, { nodes: Node[]; sinks: SinkRunner[] }>;
  /**
   * Sources with an operator downstream that follows the watermark (has `onWatermark`): their
   * batches carry the watermark before each record (`Batch.watermarks`); others need not.
   */
  readonly watchedSources: ReadonlySet<string>;
}

/**
 * Creates every step's operator and wires the nodes. The plan must have passed `resolvePlan`
 * (types registered, inputs exist, no cycle). Operator factories throw on bad step configs
 * (an expression that does not compile, a schema that does not load).
 */
export function buildOperatorGraph(
  plan: Plan,
  registry: Registry,
  failures: FailureRouter,
  clock: Clock,
  functions: ReadonlyMap<string, unknown>,
): OperatorGraph {
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const order = topologicalOrder(
    plan.steps.map((s) => s.id),
    new Map(plan.steps.map((s) => [s.id, s.inputs])),
  );
  const nodes = new Map<string, Node>();
  const ordered: Node[] = [];
  const now = () => clock.now();
  for (const id of order) {
    const step = byId.get(id)!;
    const info: StepInfo = { id, baseDir: plan.baseDir, clock, functions };
    const operator = inComponent(id, () => registry.step(step.type)!.create(step.config as never, info));
    // Steps given TypeScript functions (map_fn, process, …) are the ones `functions` names.
    const node = new Node(id, operator, failures, now, functions.has(id));
    nodes.set(id, node);
    ordered.push(node);
  }
  const sourceTargets = new Map<string, { nodes: Node[]; sinks: SinkRunner[] }>();
  for (const src of plan.sources) sourceTargets.set(src.id, { nodes: [], sinks: [] });
  for (const step of plan.steps) {
    const node = nodes.get(step.id)!;
    for (const input of step.inputs) {
      const upstream = nodes.get(input);
      if (upstream) upstream.steps.push(node);
      else sourceTargets.get(input)!.nodes.push(node);
    }
  }
  const watchedSources = new Set<string>();
  for (const [source, targets] of sourceTargets) {
    const seen = new Set<Node>();
    const stack = [...targets.nodes];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (seen.has(node)) continue;
      seen.add(node);
      if (node.operator.onWatermark) {
        watchedSources.add(source);
        break;
      }
      stack.push(...node.steps);
    }
  }
  return { nodes, order: ordered, sourceTargets, watchedSources };
}
