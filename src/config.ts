// Configuration: defaults < file (--config / GATE2MQTT_CONFIG, JSON or YAML) < environment < CLI
// flags. Validated strictly once, then frozen and passed in; there is no settings singleton.
import { hostname } from 'node:os';
import convict, { type Schema } from 'convict';
import { load as loadYaml } from 'js-yaml';
import { ConfigError } from './errors.js';
import { MiB } from './config-kit.js';
import { qyznConfigSchema, type QyznConfig } from '../adapters/qyzn/config.js';
import { checkGantryOverrides, gantryConfigSchema, type GantryConfig } from '../adapters/gantry/config.js';
import { wsdoorConfigSchema, type WsdoorConfig } from '../adapters/wsdoor/config.js';
import { wscamConfigSchema, type WscamConfig } from '../adapters/wscam/config.js';

export type { AnswerConfig, AnswerMode, ListenerConfig } from './config-kit.js';

export interface OutputConfig {
  media: 'inline' | 'reference';
  includeRaw: boolean;
}

export interface MqttConfig {
  url: string;
  username: string;
  password: string;
  clientId: string;
  protocol: 'auto' | '5' | '3.1.1';
  keepaliveS: number;
  reconnectPeriodMs: number;
  sessionExpiryS: number;
  publishTimeoutMs: number;
  maxInflight: number;
  ca: string;
  cert: string;
  key: string;
  rejectUnauthorized: boolean;
}

export interface GatewayConfig {
  baseTopic: string;
  deviceTimeZone: string;
  log: { level: string };
  mqtt: MqttConfig;
  broker: { host: string; port: number; wsEnabled: boolean; wsPort: number; inProcess: boolean; drainTimeoutMs: number };
  http: { host: string; port: number; bodyLimitBytes: number; headersTimeoutMs: number; requestTimeoutMs: number; cert: string; key: string };
  commands: { defaultTimeoutMs: number; maxTimeoutMs: number; maxPayloadBytes: number };
  output: OutputConfig;
  shutdownTimeoutMs: number;
  qyzn: QyznConfig;
  gantry: GantryConfig;
  wsdoor: WsdoorConfig;
  wscam: WscamConfig;
}

function topicRoot(value: unknown): void {
  if (typeof value !== 'string' || value === '' || /[+#\u0000]/.test(value) || value.startsWith('/') || value.endsWith('/')) {
    throw new Error('must be a topic without wildcards and without a leading or trailing "/"');
  }
}

function timeZone(value: unknown): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: String(value) });
  } catch {
    throw new Error('must be an IANA time zone such as Asia/Shanghai');
  }
}

function brokerUrl(value: unknown): void {
  if (value === '') return;
  if (typeof value !== 'string' || !/^(mqtts?|wss?):\/\/[^/]/.test(value)) {
    throw new Error('must be empty (embedded broker) or an mqtt://, mqtts://, ws:// or wss:// URL');
  }
}

export const schema: Schema<GatewayConfig> = {
  baseTopic: {
    doc: 'Root of every topic.',
    format: topicRoot,
    default: 'gate2mqtt',
    env: 'GATE2MQTT_BASE_TOPIC',
    arg: 'base-topic',
  },
  deviceTimeZone: {
    doc: 'Time zone of device clocks (gantry times, qyzn sync_time).',
    format: timeZone,
    default: 'Asia/Shanghai',
    env: 'GATE2MQTT_DEVICE_TZ',
  },
  log: {
    level: {
      doc: 'pino log level.',
      format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
      env: 'GATE2MQTT_LOG_LEVEL',
      arg: 'log-level',
    },
  },
  mqtt: {
    url: {
      doc: 'External broker (mqtt://, mqtts://, ws://, wss://). Empty: run the embedded broker.',
      format: brokerUrl,
      default: '',
      env: 'GATE2MQTT_MQTT_URL',
      arg: 'mqtt-url',
    },
    username: { doc: 'Broker user name.', format: String, default: '', env: 'GATE2MQTT_MQTT_USERNAME' },
    password: {
      doc: 'Broker password.',
      format: String,
      default: '',
      env: 'GATE2MQTT_MQTT_PASSWORD',
      sensitive: true,
    },
    clientId: {
      doc: 'MQTT client id. Stable, so the broker keeps the session (and queued commands) across reconnects.',
      format: String,
      default: `gate2mqtt-${hostname()}`,
      env: 'GATE2MQTT_MQTT_CLIENT_ID',
    },
    protocol: {
      doc: 'MQTT version: "auto" tries 5 and falls back to 3.1.1 when the broker refuses it.',
      format: ['auto', '5', '3.1.1'],
      default: 'auto',
      env: 'GATE2MQTT_MQTT_PROTOCOL',
    },
    keepaliveS: { doc: 'MQTT keep-alive in seconds.', format: 'nat', default: 30 },
    reconnectPeriodMs: { doc: 'Pause between reconnect attempts.', format: 'nat', default: 2000 },
    sessionExpiryS: {
      doc: 'MQTT 5 session expiry: how long the broker keeps the session and queued commands while the gateway is away.',
      format: 'nat',
      default: 3600,
    },
    publishTimeoutMs: {
      doc: 'How long a device message waits for the broker acknowledgement before the device gets its failure code.',
      format: 'nat',
      default: 10000,
    },
    maxInflight: {
      doc: "Device messages handed to the broker and not yet acknowledged, at most (MQTT 5: also at most the broker's receive maximum). The rest wait in the gateway, in order; one still waiting when publishTimeoutMs runs out is never published, and its device gets its failure code.",
      format: 'nat',
      default: 100,
      env: 'GATE2MQTT_MQTT_MAX_INFLIGHT',
    },
    ca: { doc: 'CA certificate file for mqtts:// or wss://.', format: String, default: '', env: 'GATE2MQTT_MQTT_CA' },
    cert: { doc: 'Client certificate file.', format: String, default: '', env: 'GATE2MQTT_MQTT_CERT' },
    key: { doc: 'Client key file.', format: String, default: '', env: 'GATE2MQTT_MQTT_KEY' },
    rejectUnauthorized: {
      doc: 'Check the broker certificate.',
      format: Boolean,
      default: true,
      env: 'GATE2MQTT_MQTT_REJECT_UNAUTHORIZED',
    },
  },
  broker: {
    host: {
      doc: 'Address the embedded broker binds to.',
      format: String,
      default: '0.0.0.0',
      env: 'GATE2MQTT_BROKER_HOST',
    },
    port: {
      doc: 'Embedded broker MQTT/TCP port.',
      format: 'port',
      default: 1883,
      env: 'GATE2MQTT_BROKER_PORT',
      arg: 'broker-port',
    },
    wsEnabled: {
      doc: 'Serve MQTT over WebSocket from the embedded broker.',
      format: Boolean,
      default: true,
      env: 'GATE2MQTT_BROKER_WS_ENABLED',
    },
    wsPort: {
      doc: 'Embedded broker MQTT-over-WebSocket port.',
      format: 'port',
      default: 9001,
      env: 'GATE2MQTT_BROKER_WS_PORT',
      arg: 'broker-ws-port',
    },
    drainTimeoutMs: {
      doc: "A subscriber of the embedded broker whose socket does not drain for this long is disconnected; until then, publishes to it wait: at most mqtt.maxInflight of them at the broker, and device messages past those are refused after mqtt.publishTimeoutMs. Lower it to cut stalled subscribers off sooner; a clean-session subscriber then misses what was published meanwhile.",
      format: 'nat',
      default: 60000,
      env: 'GATE2MQTT_BROKER_DRAIN_TIMEOUT_MS',
    },
    inProcess: {
      doc: 'The gateway publishes into the embedded broker by calling it in the same process (fast); false: over a loopback MQTT connection, as to an external broker.',
      format: Boolean,
      default: true,
      env: 'GATE2MQTT_BROKER_IN_PROCESS',
    },
  },
  http: {
    host: { doc: 'Address the HTTP server binds to.', format: String, default: '0.0.0.0', env: 'GATE2MQTT_HTTP_HOST' },
    port: {
      doc: 'HTTP server: gantry uploads, /healthz, /readyz, /metrics.',
      format: 'port',
      default: 8080,
      env: 'GATE2MQTT_HTTP_PORT',
      arg: 'http-port',
    },
    bodyLimitBytes: { doc: 'Largest HTTP body accepted.', format: 'nat', default: 8 * MiB },
    headersTimeoutMs: {
      doc: "Time a client has to send the headers of a request before the connection is closed (408). 0: Node's default of 60 s.",
      format: 'nat',
      default: 10_000,
      env: 'GATE2MQTT_HTTP_HEADERS_TIMEOUT_MS',
    },
    requestTimeoutMs: {
      doc: 'Time a client has to send a whole request, body included, before the connection is closed (408). 0: no limit.',
      format: 'nat',
      default: 30_000,
      env: 'GATE2MQTT_HTTP_REQUEST_TIMEOUT_MS',
    },
    cert: {
      doc: 'TLS certificate file (PEM): with http.key, the HTTP server (gantry uploads included) speaks HTTPS.',
      format: String,
      default: '',
      env: 'GATE2MQTT_HTTP_CERT',
    },
    key: { doc: 'TLS key file (PEM) for http.cert.', format: String, default: '', env: 'GATE2MQTT_HTTP_KEY', sensitive: true },
  },
  commands: {
    defaultTimeoutMs: {
      doc: 'Time a command waits for the device when it names no timeoutMs.',
      format: 'nat',
      default: 10000,
    },
    maxTimeoutMs: { doc: 'Largest timeoutMs a command may ask for.', format: 'nat', default: 300000 },
    maxPayloadBytes: { doc: 'Largest MQTT command payload accepted.', format: 'nat', default: 8 * MiB },
  },
  output: {
    media: {
      doc: '"inline" keeps base64 images in events; "reference" replaces them with {media, bytes, sha256}.',
      format: ['inline', 'reference'],
      default: 'inline',
      env: 'GATE2MQTT_OUTPUT_MEDIA',
    },
    includeRaw: {
      doc: "Add the device's untouched message to each event as raw.",
      format: Boolean,
      default: false,
      env: 'GATE2MQTT_OUTPUT_INCLUDE_RAW',
    },
  },
  shutdownTimeoutMs: {
    doc: 'Longest a SIGTERM/SIGINT shutdown may take before the process exits anyway.',
    format: 'nat',
    default: 5000,
  },
  qyzn: qyznConfigSchema,
  gantry: gantryConfigSchema,
  wsdoor: wsdoorConfigSchema,
  wscam: wscamConfigSchema,
};

convict.addParser([
  { extension: 'json', parse: JSON.parse },
  { extension: ['yml', 'yaml'], parse: (text: string) => loadYaml(text) },
]);

export interface LoadOptions {
  /** Configuration file; else GATE2MQTT_CONFIG. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** CLI flags such as ['--http-port', '8080'] (convict `arg` names). */
  args?: string[];
  /** Values laid over everything else (tests). */
  overrides?: DeepPartial<GatewayConfig>;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export interface LoadedConfig {
  config: Readonly<GatewayConfig>;
  /** The effective configuration as JSON with secrets replaced. */
  redacted: string;
}

const CLI_ARGS = collectArgs(schema);

function collectArgs(node: object, path = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(node)) {
    if (value && typeof value === 'object' && !('default' in value)) {
      for (const [arg, p] of collectArgs(value, `${path}${key}.`)) out.set(arg, p);
    } else if (value && typeof value === 'object' && typeof value.arg === 'string') {
      out.set(value.arg, `${path}${key}`);
    }
  }
  return out;
}

export function cliFlags(): ReadonlyMap<string, string> {
  return CLI_ARGS;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const args = options.args ?? [];
  for (const arg of args) {
    const m = /^--([^=]+)/.exec(arg);
    if (m && !CLI_ARGS.has(m[1] as string)) throw new ConfigError(`--${m[1]}: unknown flag`);
  }
  const conf = convict(schema, { env, args });
  const file = options.file ?? env.GATE2MQTT_CONFIG;
  try {
    // convict keeps environment and flags above what the file says.
    if (file) conf.loadFile(file);
    if (options.overrides) conf.load(options.overrides);
    conf.validate({ allowed: 'strict' });
    // convict holds a map keyed by gantry id only as a plain Object; its entries are checked here.
    checkGantryOverrides(conf.get('gantry.gantries'));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(formatConvictError(err, file));
  }
  const config = deepFreeze(conf.getProperties());
  return { config, redacted: JSON.stringify(JSON.parse(conf.toString()), null, 2) };
}

function formatConvictError(err: unknown, file: string | undefined): string {
  const raw = err instanceof Error ? err.message : String(err);
  if (/ENOENT/.test(raw)) return `${file}: no such configuration file`;
  return raw
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const undeclared = /configuration param '([^']+)' not declared in the schema/.exec(line);
      return undeclared ? `${undeclared[1]}: not an option of gate2mqtt` : line.trim();
    })
    .join('\n');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
