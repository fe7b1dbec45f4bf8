import type { Schema } from 'convict';
import { listenerSchema, MiB, type ListenerConfig } from '../../src/config-kit.js';

export interface WscamConfig extends ListenerConfig {
  maxPayloadBytes: number;
}

export const wscamConfigSchema: Schema<WscamConfig> = {
  ...listenerSchema('wscam', 8082, 'GATE2MQTT_WSCAM_PORT'),
  maxPayloadBytes: {
    doc: 'Largest WebSocket message accepted.',
    format: 'nat',
    default: 8 * MiB,
  },
};
