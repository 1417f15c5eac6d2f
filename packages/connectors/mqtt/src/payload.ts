/**
 * The metadata a `mqtt` source record carries (bodies are decoded by the core's `decodeMessageBody`).
 */

/** The field that carries a record's MQTT metadata when `metadata` is on. */
export const METADATA_FIELD = '_mqtt';

/** What `_mqtt` holds. */
export interface MqttMetadata {
  topic: string;
  qos: number;
  retain: boolean;
  /** MQTT 5 user properties by name (the last wins when a name repeats). */
  user_properties: { [name: string]: string };
}

/** The user properties of a packet as `_mqtt.user_properties` gives them. */
export function userProperties(props: { [name: string]: string | string[] } | undefined): {
  [name: string]: string;
} {
  const out: { [name: string]: string } = {};
  if (props === undefined) return out;
  for (const [name, value] of Object.entries(props)) {
    out[name] = Array.isArray(value) ? (value[value.length - 1] ?? '') : value;
  }
  return out;
}
