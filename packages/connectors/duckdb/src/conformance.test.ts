/**
 * The core's sink conformance suite run by the `duckdb` sink against real database files.
 */

import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sinkConformance } from '@sluice/core/testing';
import { duckdbSink } from './sink-spec.ts';
import { queryFile, TestFolder } from './test-support.ts';

const folder = new TestFolder();
after(() => folder.dispose());

sinkConformance({
  spec: duckdbSink,
  baseDir: fileURLToPath(new URL('../../../..', import.meta.url)),
  changelog: true,
  // `name` is NOT NULL: DuckDB refuses the record, naming the column.
  refused: { record: { id: 1000, amount: 1 }, reason: /name/ },
  async target({ changelog }) {
    const path = folder.file();
    if (changelog) {
      const options = {
        path,
        table: 'changes',
        mode: 'upsert',
        key: ['id'],
        create_table: true,
        columns: { id: 'INTEGER', value: 'VARCHAR' },
      };
      return { options, read: () => queryFile(path, 'SELECT id, value FROM changes ORDER BY id') };
    }
    const options = {
      path,
      table: 'appended',
      create_table: true,
      columns: { id: 'INTEGER', name: 'VARCHAR NOT NULL', amount: 'DOUBLE', tags: 'VARCHAR[]' },
    };
    return {
      options,
      read: async () => {
        try {
          return await queryFile(path, 'SELECT id, name, amount, tags FROM appended ORDER BY rowid');
        } catch (err) {
          // Nothing published yet: the sink creates the table when it opens.
          if (/does not exist/.test(String(err))) return [];
          throw err;
        }
      },
    };
  },
});
