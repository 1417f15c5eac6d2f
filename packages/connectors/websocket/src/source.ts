/**
 * The `websocket` source: a client of a push API over WebSocket.
 */

import {
  defineSource,
  parseDuration,
  SluiceError,
  type SourceContext,
  type SourceReader,
} from '@sluice/core';
import { type WebsocketSourceConfig, websocketSourceConfig } from './source-config.ts';
import { READER_ID, WebsocketReader, type WebsocketReaderSettings } from './source-reader.ts';

/** The reader's settings from the config; CONFIG_INVALID for a URL or resume setting that cannot work. */
export function readerSettings(config: WebsocketSourceConfig): WebsocketReaderSettings {
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw new SluiceError('CONFIG_INVALID', `websocket: '${config.url}' is not a URL`, { path: 'url' });
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
    throw new SluiceError('CONFIG_INVALID', `websocket: url must be ws:// or wss://, not ${url.protocol}//`, {
      path: 'url',
    });
  let resume: WebsocketReaderSettings['resume'];
  if (config.resume === 'message') {
    if (config.resume_message === undefined || !config.resume_message.includes('{{position}}'))
      throw new SluiceError(
        'CONFIG_INVALID',
        'websocket: `resume: message` needs `resume_message`, with `{{position}}` where the position goes',
        { path: 'resume_message' },
      );
    if (config.position_field === undefined)
      throw new SluiceError(
        'CONFIG_INVALID',
        'websocket: `resume: message` needs `position_field`, the record field holding the position',
        { path: 'position_field' },
      );
    resume = { message: config.resume_message, field: config.position_field };
  }
  return {
    url: config.url,
    headers: config.headers,
    ...(config.subscribe_message !== undefined ? { subscribeMessage: config.subscribe_message } : {}),
    ...(resume !== undefined ? { resume } : {}),
    payload: { format: config.format, maxDepth: config.max_depth, invalidUtf8: config.invalid_utf8 },
    maxBuffered: config.max_buffered,
    initialBackoff: parseDuration(config.initial_backoff, 'initial_backoff'),
    maxBackoff: parseDuration(config.max_backoff, 'max_backoff'),
  };
}

export const websocketSource = defineSource({
  type: 'websocket',
  summary:
    'Reads a push API over WebSocket, reconnecting, and resuming from the checkpoint where the API allows.',
  identity: ['url'],
  delivery: { option: 'resume', values: { none: 'at-most-once', message: 'at-least-once' } },
  description: [
    'Connects to `url` (with `headers` on the upgrade request) and reads each message as one record',
    '(`format`); a message that does not decode goes to the dead-letter output with the reason. On',
    'every connection it sends `subscribe_message`, if set. When the connection drops or cannot be',
    'opened it reconnects with capped exponential backoff and jitter (`initial_backoff` doubling up',
    'to `max_backoff`), keeping what it received and has not handed to the pipeline yet. When',
    '`max_buffered` messages wait it stops reading the socket, so TCP flow control slows the server.',
    '',
    'Delivery: `resume: none` (the default) — at-most-once: a push API that cannot resume loses what',
    'it pushed while the source was disconnected or the pipeline was down, and what the source had',
    'received but not checkpointed when the process died. `resume: message` — at-least-once, for APIs',
    'that can send what came after a position (a sequence number, a cursor): the value of',
    '`position_field` of the last record read is in the checkpoint, and on every connection after the',
    'first record (and after a restart, from the checkpoint) the source sends `resume_message` with',
    '`{{position}}` replaced by that position as JSON instead of `subscribe_message`; after a restart',
    'the records read after the checkpoint come again. Whether nothing is lost rests on the API',
    'keeping enough history to answer the resume.',
  ].join('\n'),
  example: [
    'type: websocket',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a pipeline file's ${VAR} reference, shown as such
    'url: "${FEED_URL:-ws://127.0.0.1:8765/feed}"',
    'subscribe_message: \'{"op":"subscribe"}\'',
    'resume: message',
    'resume_message: \'{"op":"resume","after":{{position}}}\'',
    'position_field: seq',
  ].join('\n'),
  config: websocketSourceConfig,
  create(config) {
    const settings = readerSettings(config);
    return {
      async open(ctx: SourceContext): Promise<SourceReader[]> {
        const reader = new WebsocketReader(settings, ctx, ctx.restored[READER_ID]);
        reader.start();
        return [reader];
      },
    };
  },
});
