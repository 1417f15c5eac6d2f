/**
 * The two internals of `@platformatic/kafka` that the source's Fetch and the sink's Produce
 * requests are sent through: the API version the broker and the library agree on, and the
 * library's pooled connection to a broker. Kept here, in one place, because an upgrade of the
 * library may move them.
 */

import { type Base, type ClusterMetadata, kGetApi, kGetConnection } from '@platformatic/kafka';

/** A client of the library (consumer, producer, admin), as far as these two need it. */
type Client = Pick<Base, typeof kGetApi | typeof kGetConnection>;

/**
 * The highest version of API `name` (e.g. `Fetch`) both speak, capped at `range.max`; undefined
 * when the broker only speaks versions below `range.min`.
 */
export function apiVersion(
  client: Client,
  name: string,
  range: { min: number; max: number },
): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    client[kGetApi](name, (err, api) => {
      if (err) return reject(err);
      const version = (api as { version: number }).version;
      resolve(version < range.min ? undefined : Math.min(version, range.max));
    });
  });
}

/** The library's connection to broker `node` of `metadata`, as the caller's view `C` of it. */
export function connectionTo<C>(client: Client, metadata: ClusterMetadata, node: number): Promise<C> {
  const broker = metadata.brokers.get(node);
  if (broker === undefined) return Promise.reject(new Error(`broker ${node} is not in the metadata`));
  return new Promise((resolve, reject) => {
    client[kGetConnection](broker, (err, connection) =>
      err ? reject(err) : resolve(connection as unknown as C),
    );
  });
}
