// Configuration: defaults < file (--config / GATE2MQTT_CONFIG, JSON or YAML) < environment < CLI
// flags. Validated strictly once, then frozen and passed in; there is no settings singleton.
import convict, { type Schema } from 'convict';
import { load as loadYaml } from 'js-yaml';
import { ConfigError } from './errors.js';
import { MiB } from './config-kit.js';
import { filterProblem } from './acl.js';
import { passwordHashProblem } from './passwd.js';
import { qyznConfigSchema, type QyznConfig } from '../adapters/qyzn/config.js';
import { checkGantryOverrides, gantryConfigSchema, type GantryConfig } from '../adapters/gantry/config.js';
import { wsdoorConfigSchema, type WsdoorConfig } from '../adapters/wsdoor/config.js';
import { wscamConfigSchema, type WscamConfig } from '../adapters/wscam/config.js';

export type { AnswerConfig, AnswerMode, ListenerConfig } from './config-kit.js';

export interface OutputConfig {
  media: 'inline' | 'reference';
  includeRaw: boolean;
}

export interface HomeAssistantConfig {
  enabled: boolean;
  prefix: string;
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

export interface BufferConfig {
  mode: 'off' | 'disk';
  dir: string;
  maxBytes: number;
  maxMediaBytes: number;
  maxAgeS: number;
  commitMs: number;
}

export interface BrokerUser {
  username: string;
  /** A hash made by `gate2mqtt passwd`. */
  password: string;
  /** Topic filters the user may publish to; `{base}` is baseTopic. Missing: none. */
  publish?: string[];
  /** Topic filters the user may subscribe within. Missing: none. */
  subscribe?: string[];
}

export interface BrokerConfig {
  host: string;
  port: number;
  wsEnabled: boolean;
  wsPort: number;
  inProcess: boolean;
  thread: boolean;
  drainTimeoutMs: number;
  persistence: 'memory' | 'disk';
  dataDir: string;
  users: BrokerUser[];
  tls: { cert: string; key: string; ca: string };
  cluster: BrokerClusterConfig;
}

export interface BrokerClusterConfig {
  /** Empty: a standalone broker. */
  redisUrl: string;
  /** Empty: `gate2mqtt:{baseTopic}:`. */
  prefix: string;
  heartbeatMs: number;
}

export interface HttpConfig {
  host: string;
  port: number;
  bodyLimitBytes: number;
  cert: string;
  key: string;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  trustProxy: string;
  auth: { token: string; users: Array<{ username: string; password: string }> };
  console: boolean;
}

export interface InstanceConfig {
  id: string;
  mode: 'single' | 'multi';
  redisUrl: string;
  redisPrefix: string;
  leaseMs: number;
}

export interface GatewayConfig {
  baseTopic: string;
  instance: InstanceConfig;
  deviceTimeZone: string;
  log: { level: string };
  mqtt: MqttConfig;
  broker: BrokerConfig;
  http: HttpConfig;
  commands: { defaultTimeoutMs: number; maxTimeoutMs: number; maxPayloadBytes: number };
  output: OutputConfig;
  homeassistant: HomeAssistantConfig;
  buffer: BufferConfig;
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

/** Instance ids are one topic level of `{base}/bridge/{id}/...`, beside the bridge's own topics. */
const BRIDGE_TOPICS = new Set(['state', 'info', 'event', 'request', 'response']);
function instanceId(value: unknown): void {
  if (value === '') return;
  if (typeof value !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) {
    throw new Error('must be 1 to 64 letters, digits, ".", "_" or "-", beginning with a letter or digit');
  }
  if (BRIDGE_TOPICS.has(value)) throw new Error(`must not be one of the bridge's own topics (${[...BRIDGE_TOPICS].join(', ')})`);
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

function clusterRedisUrl(value: unknown): void {
  if (value === '') return;
  if (typeof value !== 'string' || !/^rediss?:\/\/[^/\s]/.test(value)) throw new Error('must be empty (a standalone broker) or a redis:// or rediss:// URL');
}

// The prefix is also part of the pub/sub patterns the brokers subscribe to: a glob character in it
// would make one cluster hear another's channels.
function clusterPrefix(value: unknown): void {
  if (typeof value !== 'string' || /[*?[\]\\\s]/.test(value)) throw new Error('must be a prefix without *, ?, [, ], \\ or spaces');
}

function positiveInt(value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < 1) throw new Error('must be a whole number of milliseconds, at least 1');
}

/** With a cluster, what the broker keeps is in Redis: a local disk store beside it would be a
 *  second, diverging copy of the same sessions. */
function checkBrokerCluster(broker: BrokerConfig): void {
  if (broker.cluster.redisUrl && broker.persistence === 'disk') {
    throw new ConfigError(
      'broker.persistence: must be memory with broker.cluster.redisUrl (GATE2MQTT_BROKER_CLUSTER_REDIS_URL) set: the cluster keeps sessions, retained topics and wills in that Redis; set broker.persistence (GATE2MQTT_BROKER_PERSISTENCE) to memory, or leave broker.cluster.redisUrl empty',
    );
  }
}

function nonEmpty(value: unknown): void {
  if (typeof value !== 'string' || value.trim() === '') throw new Error('must not be empty');
}

/** convict holds a list of objects only behind a format of its own; the shape is checked here.
 *  An error starts with `[i].field`, which loadConfig joins to the option's path. */
function userList(fields: { acl: boolean }): (value: unknown) => void {
  return (value) => {
    if (!Array.isArray(value)) throw new Error('must be a list of users');
    const seen = new Set<string>();
    value.forEach((user: unknown, i) => {
      const at = `[${i}]`;
      if (!user || typeof user !== 'object' || Array.isArray(user)) throw new Error(`${at}: must be an object with username and password`);
      const entry = user as Record<string, unknown>;
      const allowed = fields.acl ? ['username', 'password', 'publish', 'subscribe'] : ['username', 'password'];
      const unknown = Object.keys(entry).find((key) => !allowed.includes(key));
      if (unknown !== undefined) throw new Error(`${at}.${unknown}: not a field of a user (${allowed.join(', ')})`);
      const { username } = entry;
      if (typeof username !== 'string' || username === '' || username.includes(':')) {
        throw new Error(`${at}.username: must be a non-empty string without ":"`);
      }
      if (seen.has(username)) throw new Error(`${at}.username: ${username} is listed twice`);
      seen.add(username);
      const problem = passwordHashProblem(entry.password);
      if (problem) throw new Error(`${at}.password: ${problem}`);
      if (!fields.acl) return;
      for (const list of ['publish', 'subscribe'] as const) {
        const filters = entry[list] ?? [];
        if (!Array.isArray(filters)) throw new Error(`${at}.${list}: must be a list of topic filters`);
        filters.forEach((filter: unknown, j) => {
          const bad = filterProblem(filter);
          if (bad) throw new Error(`${at}.${list}[${j}]: ${bad}`);
        });
      }
    });
  };
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
  instance: {
    id: {
      doc: 'This instance\'s name, stable across its restarts: `{base}/bridge/{id}/state` and `/info`, the default MQTT client id, and (multi mode) its device records. Empty: `{hostname}-{http.port}`.',
      format: instanceId,
      default: '',
      env: 'GATE2MQTT_INSTANCE_ID',
      arg: 'instance-id',
    },
    mode: {
      doc: '"single": one gateway per base topic. "multi": several instances share one broker and base topic; a Redis registry says which instance holds each device, and each command is executed by that one (docs/scale-out.md).',
      format: ['single', 'multi'],
      default: 'single',
      env: 'GATE2MQTT_INSTANCE_MODE',
    },
    redisUrl: {
      doc: 'Multi mode: the Redis of the device owner registry (redis:// or rediss://).',
      format: String,
      default: 'redis://127.0.0.1:6379',
      env: 'GATE2MQTT_INSTANCE_REDIS_URL',
      sensitive: true,
    },
    redisPrefix: {
      doc: 'Multi mode: prefix of the registry\'s Redis keys. Empty: `gate2mqtt:{baseTopic}:`. Instances with the same base topic must share it.',
      format: String,
      default: '',
      env: 'GATE2MQTT_INSTANCE_REDIS_PREFIX',
    },
    leaseMs: {
      doc: 'Multi mode: an instance unheard this long is dead (its devices are set offline, another takes custody of commands); refreshed every third of it.',
      format: 'nat',
      default: 3000,
      env: 'GATE2MQTT_INSTANCE_LEASE_MS',
    },
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
      doc: 'MQTT client id. Stable, so the broker keeps the session (and queued commands) across reconnects. Empty: `gate2mqtt-{instance.id}`.',
      format: String,
      default: '',
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
      doc: 'Address the embedded broker (MQTT and MQTT over WebSocket) binds to. Empty: 127.0.0.1 while broker.users is empty, 0.0.0.0 once users are configured. A non-loopback address with no users lets anyone on the network publish commands (a warning is logged).',
      format: String,
      default: '',
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
    users: {
      doc: "Who may connect to the embedded broker, once any user is listed: a list of {username, password, publish, subscribe}. password is a hash made by `gate2mqtt passwd` (never a clear password); publish and subscribe are lists of MQTT topic filters the user may publish to and subscribe within ({base} is baseTopic; an empty or missing list allows nothing). File only. The gateway's own client is not subject to them.",
      format: userList({ acl: true }),
      default: [],
      sensitive: true,
    },
    tls: {
      cert: {
        doc: 'Certificate file (PEM, with its chain) of the embedded broker: with broker.tls.key, its MQTT listener speaks mqtts:// and its WebSocket one wss://.',
        format: String,
        default: '',
        env: 'GATE2MQTT_BROKER_TLS_CERT',
      },
      key: { doc: 'Key file (PEM) of broker.tls.cert.', format: String, default: '', env: 'GATE2MQTT_BROKER_TLS_KEY' },
      ca: {
        doc: 'CA file (PEM): when set, every client of the embedded broker must present a certificate it signed.',
        format: String,
        default: '',
        env: 'GATE2MQTT_BROKER_TLS_CA',
      },
    },
    inProcess: {
      doc: 'The gateway publishes into the embedded broker by calling it in the same process (fast); false: over a loopback MQTT connection, as to an external broker.',
      format: Boolean,
      default: true,
      env: 'GATE2MQTT_BROKER_IN_PROCESS',
    },
    thread: {
      doc: 'Run the embedded broker (aedes, its listeners, logins, ACLs and store) in a worker thread of its own, on another core than the adapters; the publishes of one event-loop turn go to it in one message. With broker.inProcess only.',
      format: Boolean,
      default: false,
      env: 'GATE2MQTT_BROKER_THREAD',
    },
    persistence: {
      doc: 'Where the embedded broker keeps retained topics, persistent sessions (their subscriptions and queued QoS 1/2 messages) and wills. disk: in broker.dataDir, so they survive a restart of the gateway, kill -9 included; memory: lost at every restart.',
      format: ['memory', 'disk'],
      default: 'disk',
      env: 'GATE2MQTT_BROKER_PERSISTENCE',
    },
    dataDir: {
      doc: 'Directory of the embedded broker\'s store with broker.persistence disk (LevelDB), relative to the working directory; created when missing. One gateway at a time: a second one on the same directory does not start.',
      format: nonEmpty,
      default: 'data/broker',
      env: 'GATE2MQTT_BROKER_DATA_DIR',
    },
    cluster: {
      redisUrl: {
        doc: "Redis (redis:// or rediss://) through which embedded brokers of several gateways run as one cluster: a client may connect to any of them and sees what was published on the others, its persistent session, retained topics and will included (aedes clustering: mqemitter-redis and aedes-persistence-redis). The cluster's state is in Redis, so broker.persistence must be memory. Empty: a standalone broker.",
        format: clusterRedisUrl,
        default: '',
        env: 'GATE2MQTT_BROKER_CLUSTER_REDIS_URL',
        sensitive: true,
      },
      prefix: {
        doc: 'Prefix of the cluster\'s Redis keys and pub/sub channels. Pub/sub channels are shared by every database of a Redis, so two clusters on one Redis are kept apart only by this. Empty: gate2mqtt:{baseTopic}:.',
        format: clusterPrefix,
        default: '',
        env: 'GATE2MQTT_BROKER_CLUSTER_PREFIX',
      },
      heartbeatMs: {
        doc: 'How often each broker of the cluster tells the others it is alive. A broker unheard for 3 beats is taken for dead: the wills of its clients are published by the others (checked every 4 beats).',
        format: positiveInt,
        default: 1000,
        env: 'GATE2MQTT_BROKER_CLUSTER_HEARTBEAT_MS',
      },
    },
  },
  http: {
    host: { doc: 'Address the HTTP server binds to.', format: String, default: '0.0.0.0', env: 'GATE2MQTT_HTTP_HOST' },
    port: {
      doc: 'HTTP server: gantry uploads, the console (/), /healthz, /readyz, /metrics.',
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
    trustProxy: {
      doc: 'Behind an HTTP load balancer: whose X-Forwarded-For to believe for a client\'s address (a gantry\'s `{ip}` and `remote`). Empty: nobody (the connection\'s address). "true": every proxy; a number: that many hops; else the proxies\' addresses or CIDR ranges, comma-separated.',
      format: String,
      default: '',
      env: 'GATE2MQTT_HTTP_TRUST_PROXY',
    },
    cert: {
      doc: 'TLS certificate file (PEM): with http.key, the HTTP server (gantry uploads included) speaks HTTPS.',
      format: String,
      default: '',
      env: 'GATE2MQTT_HTTP_CERT',
    },
    key: { doc: 'TLS key file (PEM) for http.cert.', format: String, default: '', env: 'GATE2MQTT_HTTP_KEY', sensitive: true },
    auth: {
      token: {
        doc: 'When set (or http.auth.users is), every HTTP route but gantry uploads (POST /monitor.do), /healthz and /readyz needs `Authorization: Bearer <token>` (or basic auth of http.auth.users).',
        format: String,
        default: '',
        env: 'GATE2MQTT_HTTP_TOKEN',
        sensitive: true,
      },
      users: {
        doc: 'Basic-auth users of the HTTP server: a list of {username, password}, password a hash made by `gate2mqtt passwd`. File only.',
        format: userList({ acl: false }),
        default: [],
        sensitive: true,
      },
    },
    console: {
      doc: 'The web console at GET / (bridge, devices, live events, commands); behind http.auth when that is set. false: no console routes.',
      format: Boolean,
      default: true,
      env: 'GATE2MQTT_HTTP_CONSOLE',
    },
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
  homeassistant: {
    enabled: {
      doc: 'Publish Home Assistant MQTT discovery (retained, one device-based config per device on its first online since start; again when HA announces itself online on {prefix}/status).',
      format: Boolean,
      default: true,
      env: 'GATE2MQTT_HOMEASSISTANT_ENABLED',
    },
    prefix: {
      doc: "Home Assistant's discovery prefix (its MQTT integration's setting).",
      format: topicRoot,
      default: 'homeassistant',
      env: 'GATE2MQTT_HOMEASSISTANT_PREFIX',
    },
  },
  buffer: {
    mode: {
      doc: '"off": a device is acknowledged only after the broker\'s PUBACK. "disk": a device message the broker cannot take now (or whose device has older ones waiting) is appended to an on-disk queue, the device acknowledged once the append is on disk, and the queue published in order when the broker is back.',
      format: ['off', 'disk'],
      default: 'off',
      env: 'GATE2MQTT_BUFFER_MODE',
    },
    dir: {
      doc: 'Directory of the disk buffer (relative to the working directory). Opened, never recreated, at start; one gateway per directory.',
      format: String,
      default: 'data/buffer',
      env: 'GATE2MQTT_BUFFER_DIR',
    },
    maxBytes: {
      doc: 'Largest size of the disk buffer; a message that does not fit is refused, and its device gets its failure code.',
      format: 'nat',
      default: 512 * MiB,
      env: 'GATE2MQTT_BUFFER_MAX_BYTES',
    },
    maxMediaBytes: {
      doc: 'Share of buffer.maxBytes that messages with media (images) may take: past it they are refused while messages without media still go in.',
      format: 'nat',
      default: 128 * MiB,
      env: 'GATE2MQTT_BUFFER_MAX_MEDIA_BYTES',
    },
    maxAgeS: {
      doc: 'Buffered messages older than this are dropped, logged and counted in gate2mqtt_buffer_expired_total (0: never).',
      format: 'nat',
      default: 7 * 24 * 3600,
      env: 'GATE2MQTT_BUFFER_MAX_AGE_S',
    },
    commitMs: {
      doc: 'Group commit: appends are written and synced to disk together at most this often (or every 100), and each device is acknowledged when its group is on disk.',
      format: 'nat',
      default: 20,
      env: 'GATE2MQTT_BUFFER_COMMIT_MS',
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
    if (file) loadFileNamed(conf, file);
    if (options.overrides) conf.load(options.overrides);
    conf.validate({ allowed: 'strict' });
    // convict holds a map keyed by gantry id only as a plain Object; its entries are checked here.
    checkGantryOverrides(conf.get('gantry.gantries'));
    checkBrokerCluster(conf.get('broker'));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(formatConvictError(err, file, (path) => shownValue(conf, env, path)));
  }
  const config = deepFreeze(conf.getProperties());
  return { config, redacted: JSON.stringify(JSON.parse(conf.toString()), null, 2) };
}

/** A file that cannot be parsed (YAML, JSON) is named in the error, beside the parser's words. */
function loadFileNamed(conf: convict.Config<GatewayConfig>, file: string): void {
  try {
    conf.loadFile(file);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/ENOENT/.test(message)) throw new ConfigError(`${file}: no such configuration file`);
    throw new ConfigError(`${file}: cannot be read as ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${message}`);
  }
}

/** The value an option was given, as the error shows it; secrets are not shown. */
function shownValue(conf: convict.Config<GatewayConfig>, env: NodeJS.ProcessEnv, path: string): string | undefined {
  let node: unknown = schema;
  for (const key of path.split('.')) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  if (!node || typeof node !== 'object') return undefined;
  const option = node as { sensitive?: boolean; env?: string };
  if (option.sensitive) return undefined;
  // What the user wrote: convict may have coerced it already ("eighty" to a port is null).
  const raw = option.env === undefined ? undefined : env[option.env];
  if (raw !== undefined) return `${JSON.stringify(raw)} (${option.env})`;
  try {
    return JSON.stringify(conf.get(path as never));
  } catch {
    return undefined;
  }
}

function formatConvictError(err: unknown, file: string | undefined, valueOf: (path: string) => string | undefined): string {
  const raw = err instanceof Error ? err.message : String(err);
  if (/ENOENT/.test(raw)) return `${file}: no such configuration file`;
  return raw
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const undeclared = /configuration param '([^']+)' not declared in the schema/.exec(line);
      if (undeclared) return `${undeclared[1]}: not an option of gate2mqtt`;
      // A list's format names the entry at fault as `[i].field`: joined to the option's path.
      const text = line.trim().replace(/^([\w.]+): \[/, '$1[');
      // convict shows the value for some formats only ("value was ..."): the others get it here.
      const option = /^([\w.]+): /.exec(text);
      const value = option && !/value was /.test(text) ? valueOf(option[1] as string) : undefined;
      return value === undefined ? text : `${text}: value was ${value}`;
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
