/**
 * What a component needs to know of its table, read from the driver's schema metadata when it
 * opens: the columns with their types, the partition key and the clustering columns.
 */

import { SluiceError } from '@sluice/core';
import { type Client, describeError, failureKind } from './connection.ts';
import type { ColumnType } from './values.ts';

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
}

export interface TableInfo {
  /** `"keyspace"."table"`, quoted for CQL. */
  readonly quoted: string;
  readonly columns: readonly Column[];
  readonly partitionKey: readonly Column[];
  readonly clustering: readonly Column[];
}

/** A CQL identifier, quoted (so its case is kept). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Reads the table's metadata. A missing keyspace or table is CONFIG_INVALID (path `table` or
 * `keyspace`); a failure to reach the cluster is thrown as `unavailable` makes it.
 */
export async function readTable(
  client: Client,
  keyspace: string,
  table: string,
  step: string,
  unavailable: (err: unknown) => SluiceError,
): Promise<TableInfo> {
  let meta: Awaited<ReturnType<Client['metadata']['getTable']>>;
  try {
    meta = await client.metadata.getTable(keyspace, table);
  } catch (err) {
    if (failureKind(err) === 'transient') throw unavailable(err);
    throw new SluiceError('CONFIG_INVALID', `cannot read table ${keyspace}.${table}: ${describeError(err)}`, {
      step,
      path: 'table',
      cause: err,
    });
  }
  if (meta === null || meta === undefined) {
    const known = client.metadata.keyspaces[keyspace] !== undefined;
    throw new SluiceError(
      'CONFIG_INVALID',
      known
        ? `table ${keyspace}.${table} does not exist (create it first: the sink needs its primary key)`
        : `keyspace ${keyspace} does not exist`,
      { step, path: known ? 'table' : 'keyspace' },
    );
  }
  const col = (c: { name: string; type: { code: number; info?: unknown } }): Column => ({
    name: c.name,
    type: { code: c.type.code, info: c.type.info },
  });
  return {
    quoted: `${quoteIdent(keyspace)}.${quoteIdent(table)}`,
    columns: meta.columns.map(col),
    partitionKey: meta.partitionKeys.map(col),
    clustering: meta.clusteringKeys.map(col),
  };
}
