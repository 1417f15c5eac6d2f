/**
 * How the source defers its acknowledgements with the `mqtt` package, kept in one place because
 * an upgrade of the package may change it.
 *
 * The package acknowledges a QoS 1/2 message (PUBACK / PUBREC) when its `customHandleAcks`
 * callback answers, and handles no further packet of the connection until then: deferring that
 * answer until a checkpoint would stall the connection (no more messages, no ping responses). So
 * the source answers at once with `DEFERRED`, an error the package treats as "send nothing, go on"
 * (it emits it as an `error` event, which the source ignores), and sends the acknowledgement itself
 * later with `sendAck`, through the package's own packet writer and, for QoS 2, its store of
 * received messages (which answers the broker's PUBREL with PUBCOMP). The package is pinned to
 * one minor version (`~5.16` in package.json) for these internals: move the pin only with this
 * file's checks and the package's tests passing against the new version.
 */

import { SluiceError } from '@sluice/core';
import type { IPublishPacket, MqttClient } from 'mqtt';

/** The answer to `customHandleAcks` that acknowledges nothing and lets the connection go on. */
export const DEFERRED: Error = Object.freeze(new Error('acknowledgement deferred until the checkpoint'));

/** The internals of `MqttClient` that `sendAck` uses (present in mqtt 5.x). */
interface ClientInternals {
  _sendPacket(packet: { cmd: 'puback' | 'pubrec'; messageId: number }, cb?: () => void): void;
  _trackIncomingQoS2Publish(messageId: number, done: () => void): boolean;
  incomingStore: { put(packet: IPublishPacket, cb: () => void): unknown };
}

function internals(client: MqttClient): ClientInternals {
  const c = client as unknown as Partial<ClientInternals>;
  if (
    typeof c._sendPacket !== 'function' ||
    typeof c._trackIncomingQoS2Publish !== 'function' ||
    typeof c.incomingStore?.put !== 'function'
  ) {
    throw new SluiceError(
      'INTERNAL',
      'the installed mqtt package lacks the internals @sluice/mqtt acknowledges through ' +
        '(_sendPacket, _trackIncomingQoS2Publish, incomingStore): install the mqtt 5.x that @sluice/mqtt depends on',
    );
  }
  return c as ClientInternals;
}

/** Whether the installed `mqtt` package has what `sendAck` needs; checked when the source opens. */
export function checkInternals(client: MqttClient): void {
  internals(client);
}

/**
 * Acknowledges a received QoS 1 (PUBACK) or QoS 2 (PUBREC; the package then answers the broker's
 * PUBREL with PUBCOMP) message on the client's current connection. When the client is offline the
 * broker redelivers the message after the reconnect anyway, with the same packet id.
 */
export function sendAck(client: MqttClient, packet: IPublishPacket): void {
  const c = internals(client);
  const messageId = packet.messageId;
  if (messageId === undefined) return;
  if (packet.qos === 1) {
    c._sendPacket({ cmd: 'puback', messageId });
  } else if (packet.qos === 2) {
    if (!c._trackIncomingQoS2Publish(messageId, () => {})) return;
    c.incomingStore.put(packet, () => c._sendPacket({ cmd: 'pubrec', messageId }));
  }
}
