import type { Schema } from 'convict';
import { listenerSchema, MiB, type ListenerConfig } from '../../src/config-kit.js';

export interface WsdoorConfig extends ListenerConfig {
  maxPayloadBytes: number;
}

export const wsdoorConfigSchema: Schema<WsdoorConfig> = {
  ...listenerSchema('wsdoor', 8081, 'GATE2MQTT_WSDOOR_PORT'),
  maxPayloadBytes: {
    doc: 'Largest WebSocket message accepted.',
    format: 'nat',
    default: 8 * MiB,
  },
};
