import type { Schema } from 'convict';
import { intRange, wsListenerSchema, type WsListenerConfig } from '../ws-common/config.js';

export interface WscamConfig extends WsListenerConfig {
  heartbeatIntervalS: number;
  maxClockSkewS: number;
}

export const wscamConfigSchema: Schema<WscamConfig> = {
  ...wsListenerSchema('wscam', 8082),
  heartbeatIntervalS: {
    doc: "The cameras' hb_interval (seconds; cameras accept 15-360) assumed until a get_dev_config or set_dev_config answer tells a camera's own; a camera silent for three intervals is offline and its connection closed.",
    format: intRange(1, 3600),
    default: 60,
    env: 'GATE2MQTT_WSCAM_HEARTBEAT_INTERVAL_S',
  },
  maxClockSkewS: {
    doc: "Largest difference (seconds) between a camera message's timestamp and the gateway clock; a message outside it is refused with a non-zero ret. 0 disables the check.",
    format: intRange(0, 86_400),
    default: 300,
    env: 'GATE2MQTT_WSCAM_MAX_CLOCK_SKEW_S',
  },
};
