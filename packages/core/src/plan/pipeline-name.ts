/**
 * The rule for pipeline names. A name names the pipeline's checkpoint folder (and durable
 * external resources such as Kafka transactional ids), so it must be one plain path segment on
 * every platform: no separators, no `.` or `..`, nothing a shell or another OS reads differently.
 */

/** Longest pipeline name accepted; well below file-name limits once prefixes are added. */
export const PIPELINE_NAME_MAX = 128;

/** Pattern of pipeline names (JSON Schema / ECMAScript syntax). */
export const pipelineNamePattern = `^[A-Za-z0-9_][A-Za-z0-9._-]{0,${PIPELINE_NAME_MAX - 1}}$`;

const rule = new RegExp(pipelineNamePattern);

/**
 * Says what is wrong with `name` as a pipeline name, or undefined when it is fine. The message
 * names the value, the rule and an example, ready for a CONFIG_INVALID at path `name`.
 */
export function pipelineNameProblem(name: string): string | undefined {
  if (rule.test(name)) return undefined;
  return (
    `${JSON.stringify(name).replace(/^"|"$/g, "'")} is not a usable pipeline name: the name is the folder its ` +
    `checkpoints are kept in, so it may hold only ASCII letters, digits, '_', '-' and '.', must not start ` +
    `with '.' or '-', and has at most ${PIPELINE_NAME_MAX} characters (e.g. 'orders-per-region')`
  );
}
