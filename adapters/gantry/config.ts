import type { Schema } from 'convict';
import { answerSchema, type AnswerConfig } from '../../src/config-kit.js';

export interface GantryConfig {
  enabled: boolean;
  controlUrl: string;
  auth: string;
  answers: { queryAndGetCardInfo: AnswerConfig };
}

export const gantryConfigSchema: Schema<GantryConfig> = {
  enabled: {
    doc: 'Serve gantry uploads (POST /monitor.do) on the HTTP server.',
    format: Boolean,
    default: true,
    env: 'GATE2MQTT_GANTRY_ENABLED',
  },
  controlUrl: {
    doc: 'URL template for control requests to a gantry; {ip} and {gantryId} are filled in.',
    format: String,
    default: 'http://{ip}:3699/remotecontrol.do',
    env: 'GATE2MQTT_GANTRY_CONTROL_URL',
  },
  auth: {
    doc: 'Expected and sent binfile-auth code. The default 123456 is logged as a warning.',
    format: String,
    default: '123456',
    env: 'GATE2MQTT_GANTRY_AUTH',
    sensitive: true,
  },
  answers: {
    queryAndGetCardInfo: answerSchema('gantry', 'queryAndGetCardInfo', 'local'),
  },
};
