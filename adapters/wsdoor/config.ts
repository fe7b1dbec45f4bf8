import type { Schema } from 'convict';
import { intRange, wsListenerSchema, type WsListenerConfig } from '../ws-common/config.js';

export interface WsdoorConfig extends WsListenerConfig {
  heartbeatIntervalS: number;
}

export const wsdoorConfigSchema: Schema<WsdoorConfig> = {
  ...wsListenerSchema('wsdoor', 8081),
  heartbeatIntervalS: {
    doc: 'Heartbeat interval (seconds) the gateway answers to a register (`interval`); a terminal silent for three intervals is offline and its connection closed.',
    format: intRange(1, 3600),
    default: 20,
    env: 'GATE2MQTT_WSDOOR_HEARTBEAT_INTERVAL_S',
  },
};
