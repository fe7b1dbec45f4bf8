import type { Schema } from 'convict';
import { listenerSchema, answerSchema, MiB, type ListenerConfig, type AnswerConfig } from '../../src/config-kit.js';
import { HEARTBEAT_S, RESEND_AFTER_MS } from './constants.js';

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
  loginTimeoutMs: number;
  heartbeatS: number;
  resendAfterMs: number;
  maxClockSkewS: number;
  allowList: string[];
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
    doc: 'Largest frame body accepted before login; a larger declared datasize closes the connection.',
    format: 'nat',
    default: 64 * 1024,
    env: 'GATE2MQTT_QYZN_MAX_FRAME_BYTES_BEFORE_LOGIN',
  },
  maxFrameBytes: {
    doc: 'Largest frame body accepted after login; a larger declared datasize closes the connection.',
    format: 'nat',
    default: 8 * MiB,
    env: 'GATE2MQTT_QYZN_MAX_FRAME_BYTES',
  },
  loginTimeoutMs: {
    doc: 'Time a new connection has to log in before it is closed.',
    format: 'nat',
    default: 30000,
    env: 'GATE2MQTT_QYZN_LOGIN_TIMEOUT_MS',
  },
  heartbeatS: {
    doc: 'Heartbeat period of the devices in seconds; a device silent for three periods is offline and its connection closed.',
    format: 'nat',
    default: HEARTBEAT_S,
    env: 'GATE2MQTT_QYZN_HEARTBEAT_S',
  },
  resendAfterMs: {
    doc: "A command the device has not answered is resent with the same seq after this long, while the command's timeoutMs runs; after three unanswered resends the connection is closed.",
    format: 'nat',
    default: RESEND_AFTER_MS,
    env: 'GATE2MQTT_QYZN_RESEND_AFTER_MS',
  },
  maxClockSkewS: {
    doc: 'Largest difference in seconds between the timestamp of a register or login and the gateway clock; 0 does not check (device clocks drift until sync_time).',
    format: 'nat',
    default: 0,
    env: 'GATE2MQTT_QYZN_MAX_CLOCK_SKEW_S',
  },
  allowList: {
    doc: 'Serials or MACs allowed to register and log in (MACs in any case, with or without separators); empty allows every device that signs correctly. From the environment: comma-separated.',
    format: Array,
    default: [],
    env: 'GATE2MQTT_QYZN_ALLOW_LIST',
  },
};
