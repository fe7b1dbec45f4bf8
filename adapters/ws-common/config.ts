// Options every JSON-over-WebSocket adapter shares; each adapter's config.ts spreads these and
// adds its protocol's own.
import type { Schema } from 'convict';
import { listenerSchema, MiB, type ListenerConfig } from '../../src/config-kit.js';

export interface WsListenerConfig extends ListenerConfig {
  maxPayloadBytes: number;
  identifyTimeoutMs: number;
  pingIntervalMs: number;
  allowSn: string[];
  tlsCert: string;
  tlsKey: string;
}

/** A convict format: an integer within [min, max]. */
export function intRange(min: number, max: number): (value: unknown) => void {
  return (value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`must be an integer from ${min} to ${max}`);
    }
  };
}

export function wsListenerSchema(adapter: string, port: number): Schema<WsListenerConfig> {
  const upper = adapter.toUpperCase();
  return {
    ...listenerSchema(adapter, port, `GATE2MQTT_${upper}_PORT`),
    maxPayloadBytes: {
      doc: 'Largest WebSocket message accepted; a larger one closes the connection (1009) before it is buffered.',
      format: intRange(1024, 1024 * MiB),
      default: 8 * MiB,
      env: `GATE2MQTT_${upper}_MAX_PAYLOAD_BYTES`,
    },
    identifyTimeoutMs: {
      doc: `Time a new ${adapter} connection has to identify itself (its first accepted message with an sn) before it is closed.`,
      format: intRange(1, 3_600_000),
      default: 30_000,
      env: `GATE2MQTT_${upper}_IDENTIFY_TIMEOUT_MS`,
    },
    pingIntervalMs: {
      doc: 'WebSocket ping period; a connection that has not answered the previous ping is closed. 0 disables pings.',
      format: intRange(0, 3_600_000),
      default: 30_000,
      env: `GATE2MQTT_${upper}_PING_INTERVAL_MS`,
    },
    allowSn: {
      doc: `Serial numbers (sn) allowed to connect, comma-separated in the environment. Empty: every sn.`,
      format: Array,
      default: [],
      env: `GATE2MQTT_${upper}_ALLOW_SN`,
    },
    tlsCert: {
      doc: 'PEM certificate file: when set (with tlsKey), the listener speaks wss:// instead of ws://.',
      format: String,
      default: '',
      env: `GATE2MQTT_${upper}_TLS_CERT`,
    },
    tlsKey: {
      doc: 'PEM private key file of tlsCert.',
      format: String,
      default: '',
      env: `GATE2MQTT_${upper}_TLS_KEY`,
    },
  };
}
