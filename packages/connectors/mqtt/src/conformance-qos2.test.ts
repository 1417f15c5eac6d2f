/**
 * The core's source conformance suite run by the `mqtt` source with QoS 2 subscriptions (PUBREC
 * held back until the checkpoint), in a file of its own: see `mqttSourceConformance`.
 */

import { mqttAvailable, mqttSourceConformance } from './test-support.ts';

const available = await mqttAvailable();
mqttSourceConformance(2, available ? false : 'mosquitto not reachable at 127.0.0.1:1883');
