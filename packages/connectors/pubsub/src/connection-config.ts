/**
 * The options every `pubsub` component shares: the project, and where the service is.
 */

import { Type } from 'typebox';

export const connectionFields = {
  project: Type.String({
    minLength: 1,
    description:
      'Google Cloud project id the topic or subscription belongs to (unless given as a full path).',
    examples: ['my-project'],
  }),
  api_endpoint: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Host and port of the Pub/Sub API. Absent: the public endpoint, with Application Default ' +
        'Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, or the metadata server). An endpoint that is ' +
        'not under `googleapis.com` is taken for an emulator: plain-text gRPC, no credentials (the ' +
        'client’s own rule, as with `PUBSUB_EMULATOR_HOST`).',
      examples: ['127.0.0.1:8085'],
    }),
  ),
  key_file: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Path of a service account key file (JSON) to authenticate with, relative to the pipeline ' +
        'file. Absent: Application Default Credentials.',
      examples: ['secrets/pubsub-writer.json'],
    }),
  ),
};

/** A topic's full resource name. */
export function topicPath(project: string, topic: string): string {
  return topic.startsWith('projects/') ? topic : `projects/${project}/topics/${topic}`;
}

/** A subscription's full resource name. */
export function subscriptionPath(project: string, subscription: string): string {
  return subscription.startsWith('projects/')
    ? subscription
    : `projects/${project}/subscriptions/${subscription}`;
}
