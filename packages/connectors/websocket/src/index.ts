/**
 * @sluice/websocket: the WebSocket client source, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, websocket]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: websocket`.
 */

import { type Plugin, sourceOf } from '@sluice/core';
import { websocketSource } from './source.ts';

export { websocketSource };

/** The WebSocket plugin: the source of `type: websocket`. */
export const websocket: Plugin = { name: 'websocket', components: [websocketSource] };

/** TypeScript API helper: `.from('trades', websocketFeed({ url }))`. */
export const websocketFeed = sourceOf(websocketSource);
