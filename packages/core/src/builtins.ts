/**
 * The built-in components of @sluice/core, as one plugin: `new Registry([builtins])`.
 */

import { discardSink } from './connectors/discard-sink.ts';
import { fileLookup } from './connectors/file-lookup.ts';
import { fileSink } from './connectors/file-sink.ts';
import { fileSource } from './connectors/file-source.ts';
import { generateSource } from './connectors/generate-source.ts';
import { httpLookup } from './connectors/http-lookup.ts';
import { httpPollSource } from './connectors/http-poll-source.ts';
import { httpServerSource } from './connectors/http-server-source.ts';
import { httpSink } from './connectors/http-sink.ts';
import { nexmarkSource } from './connectors/nexmark-source.ts';
import { stdoutSink } from './connectors/stdio-sink.ts';
import { stdinSource } from './connectors/stdio-source.ts';
import { aggregateStep } from './operators/aggregate-step.ts';
import { dedupeFnStep, dedupeStep } from './operators/dedupe-step.ts';
import { deduplicateStep } from './operators/deduplicate-step.ts';
import { filterStep } from './operators/filter.ts';
import { filterFnStep, flatMapStep, keyByFnStep, mapFnStep } from './operators/functions.ts';
import { joinStep } from './operators/join-step.ts';
import { keyByStep } from './operators/key-by.ts';
import { limitStep } from './operators/limit.ts';
import { lookupStep } from './operators/lookup-step.ts';
import { mapStep } from './operators/map.ts';
import { mapAsyncStep } from './operators/map-async.ts';
import { overAggregateStep } from './operators/over-aggregate-step.ts';
import { patternStep } from './operators/pattern-step.ts';
import { processStep } from './operators/process-step.ts';
import { sortStep } from './operators/sort.ts';
import { tableFunctionStep } from './operators/table-function.ts';
import { topNStep } from './operators/top-n-step.ts';
import { unionStep } from './operators/union.ts';
import { validateStep } from './operators/validate.ts';
import { windowTopNStep } from './operators/window-top-n-step.ts';
import type { Plugin } from './spec.ts';

export const builtins: Plugin = {
  name: 'builtins',
  components: [
    generateSource,
    nexmarkSource,
    fileSource,
    stdinSource,
    httpServerSource,
    httpPollSource,
    mapStep,
    filterStep,
    validateStep,
    keyByStep,
    unionStep,
    dedupeStep,
    deduplicateStep,
    aggregateStep,
    topNStep,
    limitStep,
    sortStep,
    tableFunctionStep,
    overAggregateStep,
    windowTopNStep,
    patternStep,
    joinStep,
    mapAsyncStep,
    lookupStep,
    mapFnStep,
    filterFnStep,
    flatMapStep,
    keyByFnStep,
    dedupeFnStep,
    processStep,
    fileSink,
    stdoutSink,
    httpSink,
    discardSink,
    fileLookup,
    httpLookup,
  ],
};
