import type { Schema } from 'convict';
import { answerSchema, MiB, type AnswerConfig } from '../../src/config-kit.js';
import { ConfigError } from '../../src/errors.js';
import { CONTROL_PATH, DEFAULT_CONTROL_PORT } from './constants.js';
import { topicLevelProblem } from '../../src/topics.js';

/** What one gantry may set apart from the defaults. */
interface GantryOverride {
  /** binfile-auth expected from and sent to this gantry. */
  auth?: string;
  /** Control URL of this gantry ({ip} and {gantryId} are filled in); makes it reachable without uploads. */
  controlUrl?: string;
  /** Its reporting interval in seconds; it is offline after three without an upload. */
  reportIntervalS?: number;
}

export interface GantryConfig {
  enabled: boolean;
  controlUrl: string;
  auth: string;
  answers: { queryAndGetCardInfo: AnswerConfig };
  reportIntervalS: number;
  maxClockSkewS: number;
  maxRequestsPerMinute: number;
  maxAnswerBytes: number;
  gantries: Record<string, GantryOverride>;
}

/** What one gantry sets apart from the defaults, if anything. */
export function overrideOf(config: Readonly<GantryConfig>, gantryId: string): GantryOverride | undefined {
  return Object.hasOwn(config.gantries, gantryId) ? config.gantries[gantryId] : undefined;
}

/** The binfile-auth expected from and sent to a gantry. */
export function authOf(config: Readonly<GantryConfig>, gantryId: string): string {
  return overrideOf(config, gantryId)?.auth ?? config.auth;
}

function isUrlTemplate(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value.replaceAll('{ip}', '127.0.0.1').replaceAll('{gantryId}', 'G'));
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function controlUrlFormat(value: unknown): void {
  if (!isUrlTemplate(value)) throw new Error('must be an http:// or https:// URL; {ip} and {gantryId} may stand in it');
}

const OVERRIDE_KEYS = new Set(['auth', 'controlUrl', 'reportIntervalS']);

/** convict can only hold a map of free keys as `format: Object` (a custom format makes it walk the
 *  keys as schema paths), so the map is checked here: by the adapter's start() and by whoever loads
 *  the configuration. Throws `gantry.gantries...: why`. */
export function checkGantryOverrides(value: unknown): void {
  try {
    gantriesShape(value);
  } catch (err) {
    throw new ConfigError(`gantry.gantries${(err as Error).message}`);
  }
}

function gantriesShape(value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(': must be an object {"<gantryId>": {auth?, controlUrl?, reportIntervalS?}}');
  }
  for (const [id, override] of Object.entries(value)) {
    const problem = topicLevelProblem(id);
    if (problem !== undefined) throw new Error(`: ${JSON.stringify(id)} is not a valid gantryId: it ${problem}`);
    if (typeof override !== 'object' || override === null || Array.isArray(override)) throw new Error(`.${id}: must be an object`);
    for (const [key, inner] of Object.entries(override)) {
      if (!OVERRIDE_KEYS.has(key)) throw new Error(`.${id}.${key}: not an option (auth, controlUrl, reportIntervalS)`);
      if (key === 'auth' && (typeof inner !== 'string' || inner === '')) throw new Error(`.${id}.auth: must be a non-empty string`);
      if (key === 'controlUrl' && !isUrlTemplate(inner)) throw new Error(`.${id}.controlUrl: must be an http:// or https:// URL; {ip} and {gantryId} may stand in it`);
      if (key === 'reportIntervalS' && !(Number.isInteger(inner) && (inner as number) > 0)) {
        throw new Error(`.${id}.reportIntervalS: must be a positive integer`);
      }
    }
  }
}

export const gantryConfigSchema: Schema<GantryConfig> = {
  enabled: {
    doc: 'Serve gantry uploads (POST /monitor.do) on the HTTP server.',
    format: Boolean,
    default: true,
    env: 'GATE2MQTT_GANTRY_ENABLED',
  },
  controlUrl: {
    doc: 'URL template for control requests to a gantry; {ip} (learned from its uploads) and {gantryId} are filled in.',
    format: controlUrlFormat,
    default: `http://{ip}:${DEFAULT_CONTROL_PORT}${CONTROL_PATH}`,
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
  reportIntervalS: {
    doc: 'Reporting interval of the gantries in seconds (the seeds say 300); a gantry is offline after three intervals without an upload.',
    format: 'nat',
    default: 300,
    env: 'GATE2MQTT_GANTRY_REPORT_INTERVAL_S',
  },
  maxClockSkewS: {
    doc: 'Largest difference in seconds between an upload timeStamp and the gateway clock before it is answered 1003; 0 turns the check off.',
    format: 'nat',
    default: 300,
    env: 'GATE2MQTT_GANTRY_MAX_CLOCK_SKEW_S',
  },
  maxRequestsPerMinute: {
    doc: 'Uploads one gantry may make per minute (token bucket, bursts up to this many) before it is answered 1005; 0 turns the bound off.',
    format: 'nat',
    default: 60,
    env: 'GATE2MQTT_GANTRY_MAX_REQUESTS_PER_MINUTE',
  },
  maxAnswerBytes: {
    doc: 'Largest answer read from a gantry control request (getCabinetImageVedio files included).',
    format: 'nat',
    default: 64 * MiB,
    env: 'GATE2MQTT_GANTRY_MAX_ANSWER_BYTES',
  },
  gantries: {
    doc: 'Per-gantry settings: {"<gantryId>": {"auth"?: string, "controlUrl"?: URL template, "reportIntervalS"?: seconds}}.',
    format: Object,
    default: {},
    sensitive: true,
  },
};
