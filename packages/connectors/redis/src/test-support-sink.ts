/**
 * The targets the `redis` sink's conformance tests write to, one per mode: fresh keys on the
 * machine's Redis with the sink options for them, and how a reader of those keys sees the records.
 */

import type { Row } from '@sluice/core';
import type { SinkConformance, SinkTarget } from '@sluice/core/testing';
import type { SinkMode } from './sink-config.ts';
import type { redisSink } from './sink-spec.ts';
import { dropKeys, keysOf, REDIS_URL, type TestClient, uniqueName } from './test-support.ts';

/** A hash's or stream entry's fields back as the suite's records (`{ id, name, amount, tags }` or `{ id, value }`). */
export function decodeFields(fields: { [field: string]: string }): Row {
  const row: Row = {};
  for (const [name, text] of Object.entries(fields)) {
    if (name === 'id' || name === 'amount') row[name] = Number(text);
    else if (name === 'tags') row[name] = JSON.parse(text);
    else row[name] = text;
  }
  return row;
}

type Adapter = Pick<SinkConformance<typeof redisSink.config>, 'target' | 'refused' | 'ordered' | 'changelog'>;

/** What the conformance suite needs for `mode`; `client` prepares and reads keys. */
export function conformanceTargets(mode: SinkMode, client: TestClient): Adapter {
  const prefixes: string[] = [];
  const fresh = (what: string) => {
    const prefix = uniqueName(`conformance-${mode}-${what}`);
    prefixes.push(prefix);
    return prefix;
  };
  const done = (prefix: string) => () => dropKeys(client, prefix);
  switch (mode) {
    case 'hash':
      return {
        ordered: false,
        changelog: true,
        // The key of record 1000000 already holds a string: HSET on it is WRONGTYPE. (An id past
        // every other case's input: the kill -9 and slow-server cases write ids 0 to 3999.)
        refused: { record: { id: 1_000_000, name: 'blocked', amount: 1, tags: [] }, reason: /WRONGTYPE/ },
        async target({ changelog }) {
          const prefix = fresh(changelog ? 'changes' : 'append');
          if (!changelog) await client.set(`${prefix}:1000000`, 'a string');
          const options = { url: REDIS_URL, mode, key: `${prefix}:{id}` };
          const read = async () => {
            const rows: Row[] = [];
            for (const key of await keysOf(client, prefix))
              if ((await client.type(key)) === 'hash') rows.push(decodeFields(await client.hGetAll(key)));
            return rows;
          };
          return { options, read, dispose: done(prefix) } satisfies SinkTarget;
        },
      };
    case 'string':
      return {
        ordered: false,
        changelog: true,
        refused: {
          record: { name: 'no id', amount: 1, tags: [] },
          reason: /field 'id' of template .* is missing/,
        },
        async target({ changelog }) {
          const prefix = fresh(changelog ? 'changes' : 'append');
          const options = { url: REDIS_URL, mode, key: `${prefix}:{id}` };
          const read = async () => {
            const keys = await keysOf(client, prefix);
            if (keys.length === 0) return [];
            return (await client.mGet(keys)).map((v) => JSON.parse(String(v)) as Row);
          };
          return { options, read, dispose: done(prefix) } satisfies SinkTarget;
        },
      };
    case 'sorted_set':
      return {
        ordered: true,
        changelog: true,
        refused: {
          record: { id: 1000, name: 'x', amount: 'lots', tags: [] },
          reason: /score field 'amount' is "lots"/,
        },
        async target({ changelog }) {
          const prefix = fresh(changelog ? 'changes' : 'append');
          const key = `${prefix}:board`;
          // Members are the records as JSON, ranked by their score: the suite's `amount` grows
          // with `id`; its changelog records have only `id` to rank by.
          const options = { url: REDIS_URL, mode, key, score_field: changelog ? 'id' : 'amount' };
          const read = async () => (await client.zRange(key, 0, -1)).map((m) => JSON.parse(m) as Row);
          return { options, read, dispose: done(prefix) } satisfies SinkTarget;
        },
      };
    case 'stream':
      return {
        ordered: true,
        refused: { record: { id: null, name: null }, reason: /no field to write/ },
        async target() {
          const prefix = fresh('append');
          const key = `${prefix}:entries`;
          const options = { url: REDIS_URL, mode, key, maxlen: 10_000 };
          const read = async () => (await client.xRange(key, '-', '+')).map((e) => decodeFields(e.message));
          return { options, read, dispose: done(prefix) } satisfies SinkTarget;
        },
      };
    case 'publish':
      return {
        ordered: true,
        refused: {
          record: { name: 'no id', amount: 1, tags: [] },
          reason: /field 'id' of template .* is missing/,
        },
        async target() {
          const prefix = fresh('append');
          const subscriber = client.duplicate();
          subscriber.on('error', () => {});
          await subscriber.connect();
          const messages: Row[] = [];
          await subscriber.pSubscribe(`${prefix}:*`, (message) => messages.push(JSON.parse(message) as Row));
          const options = { url: REDIS_URL, mode, channel: `${prefix}:{id}` };
          const read = async () => {
            // What a subscriber has received once the messages stop coming.
            let seen = -1;
            while (seen !== messages.length) {
              seen = messages.length;
              await new Promise((r) => setTimeout(r, 200));
            }
            return [...messages];
          };
          return { options, read, dispose: () => subscriber.close() } satisfies SinkTarget;
        },
      };
  }
}
