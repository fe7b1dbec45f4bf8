// Pieces of the convict schema that every adapter's section uses. Kept apart from config.ts so
// adapters can import them without an import cycle (config.ts imports every adapter's section).
import type { Schema } from 'convict';

export interface ListenerConfig {
  enabled: boolean;
  host: string;
  port: number;
}

export type AnswerMode = 'local' | 'mqtt';

export interface AnswerConfig {
  mode: AnswerMode;
  timeoutMs: number;
}

export const MiB = 1024 * 1024;

export function listenerSchema(adapter: string, port: number, portEnv: string): Schema<ListenerConfig> {
  const upper = adapter.toUpperCase();
  return {
    enabled: {
      doc: `Run the ${adapter} adapter.`,
      format: Boolean,
      default: true,
      env: `GATE2MQTT_${upper}_ENABLED`,
    },
    host: {
      doc: `Address the ${adapter} listener binds to.`,
      format: String,
      default: '0.0.0.0',
      env: `GATE2MQTT_${upper}_HOST`,
    },
    port: {
      doc: `Port of the ${adapter} listener.`,
      format: 'port',
      default: port,
      env: portEnv,
      arg: `${adapter}-port`,
    },
  };
}

export function answerSchema(adapter: string, name: string, mode: AnswerMode): Schema<AnswerConfig> {
  return {
    mode: {
      doc: `How ${adapter} ${name} is answered: "local" answers at once with the default and publishes event/${name}; "mqtt" publishes request/${name} and waits for request/${name}/reply.`,
      format: ['local', 'mqtt'],
      default: mode,
    },
    timeoutMs: {
      doc: `How long "mqtt" mode waits for the platform's reply to ${name} before answering the default.`,
      format: 'nat',
      default: 3000,
    },
  };
}
