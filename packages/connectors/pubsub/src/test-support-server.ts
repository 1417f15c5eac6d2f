/**
 * A stand-in for the Google Cloud Pub/Sub service, for the package's tests: a gRPC server on
 * loopback that serves the `google.pubsub.v1` Publisher and Subscriber services from the protos
 * shipped inside `@google-cloud/pubsub`, with the official client pointed at it (`api_endpoint`,
 * insecure credentials, as for the emulator). No Pub/Sub emulator can run on these machines.
 *
 * It keeps topics, subscriptions and messages in memory with the service's lease semantics: a
 * pulled message is outstanding until its ack deadline passes (then delivered again, with a new
 * ack id and a higher delivery attempt), `ModifyAckDeadline` extends or (0 s) ends the lease,
 * `Acknowledge` removes it. It checks what the client sends — resource names, required fields,
 * limits the service enforces (at most 1000 messages per publish, deadlines 0..600 s, ack ids it
 * issued for that subscription) — and answers INVALID_ARGUMENT or NOT_FOUND as the service would,
 * so a wrong request fails the test. Every request is recorded in `calls` for tests to inspect.
 * Not modelled: StreamingPull (UNIMPLEMENTED), ordered delivery hold-back, filters, exactly-once
 * subscriptions, push, snapshots, schemas.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

/** The folder of the package a resolved module file belongs to (the nearest with a package.json). */
function packageRoot(file: string): string {
  let dir = dirname(file);
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** A message as the service stores it. */
export interface StoredMessage {
  readonly messageId: string;
  readonly data: Buffer;
  readonly attributes: { [name: string]: string };
  readonly orderingKey: string;
  readonly publishTime: number;
}

interface Delivery {
  message: StoredMessage;
  /** The current lease: its ack id and when it ends (ms); absent when not outstanding. */
  ackId?: string;
  deadline?: number;
  attempts: number;
}

interface Subscription {
  name: string;
  topic: string;
  ackDeadlineSeconds: number;
  enableMessageOrdering: boolean;
  /** Messages not acknowledged, in publish order. */
  pending: Delivery[];
  byAckId: Map<string, Delivery>;
}

/** One request the stand-in served: the method and the request as decoded. */
export interface Call {
  readonly method: string;
  readonly request: { [field: string]: unknown };
}

type Callback = grpc.sendUnaryData<unknown>;
type Unary = grpc.ServerUnaryCall<{ [field: string]: unknown }, unknown>;

const TOPIC =
  /^projects\/([a-z][-a-z0-9]{4,28}[a-z0-9]|[a-z0-9-]+)\/topics\/[A-Za-z][-A-Za-z0-9._~%+]{2,254}$/;
const SUBSCRIPTION = /^projects\/[a-z0-9-]+\/subscriptions\/[A-Za-z][-A-Za-z0-9._~%+]{2,254}$/;

class RpcError extends Error {
  readonly code: grpc.status;
  constructor(code: grpc.status, message: string) {
    super(message);
    this.code = code;
  }
}

function invalid(message: string): RpcError {
  return new RpcError(grpc.status.INVALID_ARGUMENT, message);
}

/** The Pub/Sub stand-in server. */
export class PubSubStandIn {
  readonly #server = new grpc.Server();
  readonly topics = new Map<string, StoredMessage[]>();
  readonly subscriptions = new Map<string, Subscription>();
  /** Every request served, in order. */
  readonly calls: Call[] = [];
  #nextId = 1;
  #nextAck = 1;
  /** While set, every call fails with UNAVAILABLE (an outage). */
  unavailable = false;
  #endpoint = '';

  /** `host:port` the client's `apiEndpoint` takes. */
  get endpoint(): string {
    return this.#endpoint;
  }

  /** Starts serving on a free loopback port. */
  async start(): Promise<string> {
    const protos = join(packageRoot(require.resolve('@google-cloud/pubsub')), 'build/protos');
    // The google/api protos it imports ship in google-gax, the client's own dependency.
    const fromClient = createRequire(require.resolve('@google-cloud/pubsub'));
    const gaxProtos = join(packageRoot(fromClient.resolve('google-gax')), 'build/protos');
    const definition = protoLoader.loadSync('google/pubsub/v1/pubsub.proto', {
      includeDirs: [protos, gaxProtos],
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const loaded = grpc.loadPackageDefinition(definition);
    const v1 = (loaded.google as grpc.GrpcObject).pubsub as grpc.GrpcObject;
    const publisher = (v1.v1 as grpc.GrpcObject).Publisher as grpc.ServiceClientConstructor;
    const subscriber = (v1.v1 as grpc.GrpcObject).Subscriber as grpc.ServiceClientConstructor;
    this.#server.addService(publisher.service, this.#handlers(publisher.service));
    this.#server.addService(subscriber.service, this.#handlers(subscriber.service));
    const port = await new Promise<number>((resolve, reject) =>
      this.#server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    this.#endpoint = `127.0.0.1:${port}`;
    return this.#endpoint;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.tryShutdown(() => resolve()));
  }

  /** Handlers for every method of `service`: the ones it models, UNIMPLEMENTED for the rest. */
  #handlers(service: grpc.ServiceDefinition): grpc.UntypedServiceImplementation {
    const handlers: grpc.UntypedServiceImplementation = {};
    const impl: { [method: string]: (request: { [field: string]: unknown }) => unknown } = {
      CreateTopic: (r) => this.#createTopic(r),
      GetTopic: (r) => this.#getTopic(r),
      DeleteTopic: (r) => this.#deleteTopic(r),
      Publish: (r) => this.#publish(r),
      CreateSubscription: (r) => this.#createSubscription(r),
      GetSubscription: (r) => this.#getSubscription(r),
      DeleteSubscription: (r) => this.#deleteSubscription(r),
      Pull: (r) => this.#pull(r),
      ModifyAckDeadline: (r) => this.#modifyAckDeadline(r),
      Acknowledge: (r) => this.#acknowledge(r),
    };
    for (const [name, method] of Object.entries(service)) {
      const own = impl[method.originalName ?? name] ?? impl[name];
      if (method.requestStream || method.responseStream) {
        handlers[name] = (call: grpc.ServerDuplexStream<unknown, unknown>) => {
          call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: `${name} is not modelled` });
        };
        continue;
      }
      handlers[name] = (call: Unary, callback: Callback) => {
        this.calls.push({ method: name, request: call.request });
        if (this.unavailable)
          return callback({ code: grpc.status.UNAVAILABLE, details: 'the stand-in is down' });
        if (own === undefined)
          return callback({ code: grpc.status.UNIMPLEMENTED, details: `${name} is not modelled` });
        Promise.resolve()
          .then(() => own(call.request))
          .then(
            (value) => callback(null, value),
            (err: unknown) =>
              err instanceof RpcError
                ? callback({ code: err.code, details: err.message })
                : callback({ code: grpc.status.INTERNAL, details: String(err) }),
          );
      };
    }
    return handlers;
  }

  #topicName(value: unknown): string {
    if (typeof value !== 'string' || !TOPIC.test(value))
      throw invalid(
        `Invalid resource name given (name=${String(value)}). Refer to https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names`,
      );
    return value;
  }

  #subscription(value: unknown): Subscription {
    if (typeof value !== 'string' || !SUBSCRIPTION.test(value))
      throw invalid(`Invalid resource name given (name=${String(value)}).`);
    const sub = this.subscriptions.get(value);
    if (sub === undefined) throw new RpcError(grpc.status.NOT_FOUND, 'Subscription does not exist');
    return sub;
  }

  #createTopic(r: { [field: string]: unknown }): unknown {
    const name = this.#topicName(r.name);
    if (this.topics.has(name)) throw new RpcError(grpc.status.ALREADY_EXISTS, 'Topic already exists');
    this.topics.set(name, []);
    return { name };
  }

  #getTopic(r: { [field: string]: unknown }): unknown {
    const name = this.#topicName(r.topic);
    if (!this.topics.has(name)) throw new RpcError(grpc.status.NOT_FOUND, 'Topic not found');
    return { name };
  }

  #deleteTopic(r: { [field: string]: unknown }): unknown {
    const name = this.#topicName(r.topic);
    if (!this.topics.delete(name)) throw new RpcError(grpc.status.NOT_FOUND, 'Topic not found');
    return {};
  }

  #publish(r: { [field: string]: unknown }): unknown {
    const topic = this.#topicName(r.topic);
    const messages = r.messages as { [field: string]: unknown }[];
    if (!Array.isArray(messages) || messages.length === 0) throw invalid('The request contains no messages.');
    if (messages.length > 1000) throw invalid('The value for message_count is too large.');
    const stored = this.topics.get(topic);
    if (stored === undefined) throw new RpcError(grpc.status.NOT_FOUND, 'Topic not found');
    let bytes = 0;
    const ids: string[] = [];
    const accepted: StoredMessage[] = [];
    for (const m of messages) {
      const data = m.data as Buffer;
      const attributes = (m.attributes ?? {}) as { [name: string]: string };
      if (data.length === 0 && Object.keys(attributes).length === 0)
        throw invalid('Some messages contain no data and no attribute.');
      for (const [k, v] of Object.entries(attributes)) {
        if (k.length === 0 || k.length > 256) throw invalid(`Attribute key '${k}' has an invalid length.`);
        if (Buffer.byteLength(v) > 1024) throw invalid(`Attribute value for '${k}' is too long.`);
        if (k.startsWith('goog')) throw invalid(`Attribute key '${k}' uses a reserved prefix.`);
      }
      if (typeof m.messageId === 'string' && m.messageId !== '')
        throw invalid('message_id is set by the service, not the publisher.');
      bytes += data.length;
      const messageId = String(this.#nextId++);
      accepted.push({
        messageId,
        data: Buffer.from(data),
        attributes: { ...attributes },
        orderingKey: typeof m.orderingKey === 'string' ? m.orderingKey : '',
        publishTime: Date.now(),
      });
      ids.push(messageId);
    }
    if (bytes > 10_000_000) throw invalid('The value for request_size is too large.');
    for (const m of accepted) {
      stored.push(m);
      for (const sub of this.subscriptions.values())
        if (sub.topic === topic) sub.pending.push({ message: m, attempts: 0 });
    }
    return { messageIds: ids };
  }

  #createSubscription(r: { [field: string]: unknown }): unknown {
    const name = r.name;
    if (typeof name !== 'string' || !SUBSCRIPTION.test(name))
      throw invalid(`Invalid resource name given (name=${String(name)}).`);
    const topic = this.#topicName(r.topic);
    if (!this.topics.has(topic)) throw new RpcError(grpc.status.NOT_FOUND, 'Topic not found');
    if (this.subscriptions.has(name))
      throw new RpcError(grpc.status.ALREADY_EXISTS, 'Subscription already exists');
    const deadline = Number(r.ackDeadlineSeconds ?? 0) || 10;
    if (deadline < 10 || deadline > 600) throw invalid('ack_deadline_seconds must be between 10 and 600.');
    const sub: Subscription = {
      name,
      topic,
      ackDeadlineSeconds: deadline,
      enableMessageOrdering: r.enableMessageOrdering === true,
      pending: [],
      byAckId: new Map(),
    };
    this.subscriptions.set(name, sub);
    return this.#subscriptionResource(sub);
  }

  #subscriptionResource(sub: Subscription): unknown {
    return {
      name: sub.name,
      topic: sub.topic,
      ackDeadlineSeconds: sub.ackDeadlineSeconds,
      enableMessageOrdering: sub.enableMessageOrdering,
    };
  }

  #getSubscription(r: { [field: string]: unknown }): unknown {
    return this.#subscriptionResource(this.#subscription(r.subscription));
  }

  #deleteSubscription(r: { [field: string]: unknown }): unknown {
    const sub = this.#subscription(r.subscription);
    this.subscriptions.delete(sub.name);
    return {};
  }

  async #pull(r: { [field: string]: unknown }): Promise<unknown> {
    const sub = this.#subscription(r.subscription);
    const max = Number(r.maxMessages);
    if (!Number.isInteger(max) || max <= 0) throw invalid('max_messages must be greater than 0.');
    // Like the service, a pull without returnImmediately waits a little for messages.
    const until = Date.now() + (r.returnImmediately === true ? 0 : 300);
    for (;;) {
      const received = this.#deliver(sub, max);
      if (received.length > 0 || Date.now() >= until) return { receivedMessages: received };
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (!this.subscriptions.has(sub.name))
        throw new RpcError(grpc.status.NOT_FOUND, 'Subscription does not exist');
    }
  }

  #deliver(sub: Subscription, max: number): unknown[] {
    const now = Date.now();
    const out: unknown[] = [];
    for (const d of sub.pending) {
      if (out.length >= max) break;
      if (d.ackId !== undefined && (d.deadline ?? 0) > now) continue;
      if (d.ackId !== undefined) sub.byAckId.delete(d.ackId);
      d.ackId = `ack-${this.#nextAck++}-${d.message.messageId}`;
      d.deadline = now + sub.ackDeadlineSeconds * 1000;
      d.attempts++;
      sub.byAckId.set(d.ackId, d);
      const m = d.message;
      out.push({
        ackId: d.ackId,
        deliveryAttempt: d.attempts,
        message: {
          data: m.data,
          attributes: m.attributes,
          messageId: m.messageId,
          publishTime: {
            seconds: String(Math.floor(m.publishTime / 1000)),
            nanos: (m.publishTime % 1000) * 1e6,
          },
          orderingKey: m.orderingKey,
        },
      });
    }
    return out;
  }

  #ackIds(sub: Subscription, value: unknown): string[] {
    if (!Array.isArray(value) || value.length === 0) throw invalid('ack_ids must not be empty.');
    if (value.length > 2500) throw invalid('Too many ack ids in one request.');
    for (const id of value)
      if (typeof id !== 'string' || !id.startsWith('ack-'))
        throw invalid(`You have passed an invalid ack ID to the service (ack_id=${String(id)}).`);
    void sub;
    return value as string[];
  }

  #modifyAckDeadline(r: { [field: string]: unknown }): unknown {
    const sub = this.#subscription(r.subscription);
    const seconds = Number(r.ackDeadlineSeconds);
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 600)
      throw invalid(`Invalid ack deadline given: ${String(r.ackDeadlineSeconds)} (0..600 s).`);
    const now = Date.now();
    // Expired or acknowledged ack ids are ignored, as by the service.
    for (const id of this.#ackIds(sub, r.ackIds)) {
      const d = sub.byAckId.get(id);
      if (d === undefined || (d.deadline ?? 0) <= now) continue;
      d.deadline = now + seconds * 1000;
    }
    return {};
  }

  #acknowledge(r: { [field: string]: unknown }): unknown {
    const sub = this.#subscription(r.subscription);
    const done = new Set<Delivery>();
    for (const id of this.#ackIds(sub, r.ackIds)) {
      const d = sub.byAckId.get(id);
      if (d === undefined) continue;
      sub.byAckId.delete(id);
      done.add(d);
    }
    if (done.size > 0) sub.pending = sub.pending.filter((d) => !done.has(d));
    return {};
  }

  /** Ends every lease of `subscription` now (as if its deadlines ran out): the next pull delivers again. */
  expireLeases(subscription: string): void {
    for (const d of this.subscriptions.get(subscription)?.pending ?? [])
      if (d.ackId !== undefined) d.deadline = 0;
  }

  /** When the lease of message `messageId` on `subscription` ends (ms), if it is outstanding. */
  leaseEnd(subscription: string, messageId: string): number | undefined {
    const d = this.subscriptions.get(subscription)?.pending.find((p) => p.message.messageId === messageId);
    return d?.ackId === undefined ? undefined : d.deadline;
  }

  /** Messages of `subscription` not acknowledged yet (outstanding or not). */
  unacknowledged(subscription: string): number {
    return this.subscriptions.get(subscription)?.pending.length ?? 0;
  }
}
