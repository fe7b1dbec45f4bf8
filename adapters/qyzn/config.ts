import type { Schema } from 'convict';
import { listenerSchema, answerSchema, MiB, type ListenerConfig, type AnswerConfig } from '../../src/config-kit.js';

export interface QyznConfig extends ListenerConfig {
  secret: string;
  answers: {
    snapshot_face: AnswerConfig;
    qrcode_data: AnswerConfig;
    device_sync_person: AnswerConfig;
    device_call_param: AnswerConfig;
  };
  maxFrameBytesBeforeLogin: number;
  maxFrameBytes: number;
}

export const qyznConfigSchema: Schema<QyznConfig> = {
  ...listenerSchema('qyzn', 9000, 'GATE2MQTT_QYZN_PORT'),
  secret: {
    doc: 'Secret from which device passwords are derived (passwd = first 16 hex chars of HMAC-SHA256(secret, serial)). Empty: a random one at each start, logged as a warning.',
    format: String,
    default: '',
    env: 'GATE2MQTT_QYZN_SECRET',
    sensitive: true,
  },
  answers: {
    snapshot_face: answerSchema('qyzn', 'snapshot_face', 'local'),
    qrcode_data: answerSchema('qyzn', 'qrcode_data', 'mqtt'),
    device_sync_person: answerSchema('qyzn', 'device_sync_person', 'local'),
    device_call_param: answerSchema('qyzn', 'device_call_param', 'mqtt'),
  },
  maxFrameBytesBeforeLogin: {
    doc: 'Largest frame body accepted before login.',
    format: 'nat',
    default: 64 * 1024,
  },
  maxFrameBytes: {
    doc: 'Largest frame body accepted after login.',
    format: 'nat',
    default: 8 * MiB,
  },
};
