/**
 * The shared source conformance suite against `http_poll` polling a real `node:http` API that
 * serves a growing list in numbered pages, filtered by an incremental `since`.
 */

import { tmpdir } from 'node:os';
import { sourceConformance } from '../testing/source-conformance.ts';
import { httpPollSource } from './http-poll-source.ts';
import { PagedList, startApi } from './http-poll-test-support.ts';

sourceConformance({
  spec: httpPollSource,
  baseDir: tmpdir(),
  // kill -9: the pipeline in a child process polls this process's API, which keeps its list.
  plugin: '@sluice/core',
  async input() {
    const list = new PagedList();
    const api = await startApi((req) => list.reply(req));
    return {
      options: {
        url: `${api.url}/records`,
        interval: '50ms',
        pagination: { type: 'page', param: 'page', start: 1, size_param: 'per_page', size: 10 },
        incremental: { field: 'seq', param: 'since' },
      },
      write: async (records) => list.add(records),
      writeMalformed: async (count) => list.add(Array.from({ length: count }, (_, i) => `not a record ${i}`)),
      dispose: () => api.close(),
    };
  },
});
