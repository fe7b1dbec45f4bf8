// One catalogue of the gateway's errors, each with a stable code (G2M_ERR_*).

export class GatewayError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration value is wrong; the message is `path: message` lines. */
export class ConfigError extends GatewayError {
  constructor(message: string, code = 'G2M_ERR_CONFIG') {
    super(code, message);
  }
}

/** A file in mappings/ is unreadable or wrong: the adapter it belongs to does not start. */
export class MappingsError extends ConfigError {
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`, 'G2M_ERR_MAPPINGS');
    this.file = file;
  }
}

/** A listener's port is taken; names the port and the option that moves it. */
export class PortInUseError extends GatewayError {
  readonly port: number;
  readonly variable: string;
  constructor(what: string, port: number, variable: string, hint = '') {
    super(
      'G2M_ERR_PORT_IN_USE',
      `${what} cannot listen: port ${port} is already in use; set ${variable} to another port${hint}`,
    );
    this.port = port;
    this.variable = variable;
  }
}

/** The embedded broker's on-disk store cannot be opened: the start ends, naming the directory and
 *  the option that moves it, since the broker would otherwise run without what it kept. */
export class BrokerStoreError extends GatewayError {
  readonly dir: string;
  constructor(dir: string, problem: string, options?: ErrorOptions) {
    super(
      'G2M_ERR_BROKER_STORE',
      `the embedded broker cannot open its store ${dir}: ${problem}; set broker.dataDir (GATE2MQTT_BROKER_DATA_DIR) to another directory, or broker.persistence (GATE2MQTT_BROKER_PERSISTENCE) to memory`,
      options,
    );
    this.dir = dir;
  }
}

/** The embedded broker's cluster Redis (broker.cluster.redisUrl) cannot be used at start: the start
 *  ends rather than run a broker that would silently be alone, or hang waiting for Redis. `url`
 *  comes without its password. */
export class BrokerClusterError extends GatewayError {
  constructor(url: string, problem: string, options?: ErrorOptions) {
    super('G2M_ERR_BROKER_CLUSTER', `broker.cluster.redisUrl ${url}: ${problem}`, options);
  }
}

/** The broker could not be reached at start. */
export class MqttConnectError extends GatewayError {
  constructor(url: string, cause: unknown) {
    super('G2M_ERR_MQTT', `cannot connect to the MQTT broker at ${url}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Multi-instance mode cannot start: its registry is unreachable, or another instance holds this id. */
export class InstanceError extends GatewayError {
  constructor(message: string) {
    super('G2M_ERR_INSTANCE', message);
  }
}

/** A message could not be handed over to the broker; the device gets its protocol's failure. */
export class HandoverError extends GatewayError {
  constructor(message: string, options?: ErrorOptions, code = 'G2M_ERR_HANDOVER') {
    super(code, message, options);
  }
}

/** The disk buffer is at `buffer.maxBytes` (or, for a message with media, `buffer.maxMediaBytes`):
 *  the message is refused like any other that cannot be handed over. */
export class BufferFullError extends HandoverError {
  constructor(message: string) {
    super(message, undefined, 'G2M_ERR_BUFFER_FULL');
  }
}

/** The disk buffer's store cannot be opened (taken by another gateway, unreadable, not a
 *  directory): the gateway does not start rather than run without what it was told to keep. */
export class BufferStoreError extends GatewayError {
  constructor(dir: string, cause: unknown) {
    const why = cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause);
    super('G2M_ERR_BUFFER_STORE', `the disk buffer at ${dir} cannot be opened (buffer.dir): ${why}`, { cause });
  }
}

/** Why device input was refused: the `reason` of a `protocol_error` on `bridge/event` and the
 *  `reason` label of gate2mqtt_protocol_errors_total. A public contract, listed in the README:
 *  add a token here, and there, rather than a new string at the place that refuses. */
export type ProtocolReason =
  // any adapter
  | 'bad_json' // not JSON, not a JSON object, or not UTF-8
  | 'unsafe_key' // a __proto__, constructor or prototype key
  | 'bad_message' // a field the protocol requires is missing or of the wrong type; nesting past 64
  | 'oversize' // larger than its bound
  | 'bad_identity' // the device identity is missing or cannot be a topic level
  | 'bad_name' // a message name that cannot be a topic level
  | 'clock_skew' // the message's clock is too far from the gateway's
  // gantry, wsdoor, wscam (their HTTP listeners)
  | 'bad_request' // not an HTTP request, or not sent within the HTTP deadlines
  // qyzn
  | 'bad_magic' // the bytes do not start a QYZN frame
  | 'unknown_type' // a frame header with an unknown message type
  | 'unknown_message' // a REQUEST the protocol does not have
  | 'not_logged_in' // anything but register, login and heartbeat before login
  | 'bad_register' // register without serial, mac, timestamp or sign
  | 'bad_login' // login without uuid, timestamp or sign, or as another device on the connection
  // wsdoor, wscam
  | 'bad_frame' // a WebSocket frame that breaks the protocol
  | 'identify_timeout' // no identifying message in time
  | 'sn_mismatch' // a message naming another sn than its connection's
  | 'not_registered' // wsdoor: a message before register
  | 'unknown_code' // wsdoor: a code the protocol does not have
  | 'unknown_operate' // wscam: an operate the protocol does not have
  // gantry
  | 'missing_md5' // no binfile-md5 header
  | 'bad_md5' // binfile-md5 does not match the body
  | 'rate_limited' // more uploads than gantry.maxRequestsPerMinute
  | 'unknown_version' // a version the seeds do not have
  | 'unknown_method' // a method that is not an upload
  | 'missing_fields' // an upload without a field its method requires
  | 'bad_answer'; // a control answer that breaks the protocol (an HTTP error without a code)

/** Why a device was refused for its credentials: the `reason` of an `auth_failed` event (its
 *  metric label is `auth_failed`). */
export type AuthReason =
  | 'bad_sign' // qyzn: register or login sign does not match
  | 'not_allowed' // not on the adapter's allow list
  | 'clock_skew' // qyzn: register or login timestamp outside qyzn.maxClockSkewS
  | 'login_timeout' // qyzn: no login within qyzn.loginTimeoutMs
  | 'bad_auth'; // gantry: binfile-auth missing or wrong

/** Input that breaks the protocol: bad JSON, oversize, unsafe keys, bad identity. */
export class ProtocolError extends GatewayError {
  readonly reason: ProtocolReason;
  constructor(reason: ProtocolReason, message: string) {
    super('G2M_ERR_PROTOCOL', message);
    this.reason = reason;
  }
}

export type CommandErrorType = 'unsupported' | 'invalid' | 'offline' | 'timeout' | 'device';

/** A command that fails before or without the device's own answer. */
export class CommandError extends GatewayError {
  readonly type: CommandErrorType;
  constructor(type: CommandErrorType, message: string) {
    super(`G2M_ERR_COMMAND_${type.toUpperCase()}`, message);
    this.type = type;
  }
}

export class OfflineError extends CommandError {
  constructor(deviceId: string) {
    super('offline', `device ${deviceId} is not connected`);
  }
}

/** A `bridge/request/device/remove` that cannot be carried out: the answer names why. */
export class DeviceRemoveError extends GatewayError {
  constructor(message: string) {
    super('G2M_ERR_DEVICE_REMOVE', message);
  }
}

/** A console request the console cannot act on (unknown adapter, a device id that is no topic
 *  level, not JSON): answered 4xx with this code, the gateway goes on. */
export class ConsoleRequestError extends GatewayError {
  constructor(message: string) {
    super('G2M_ERR_CONSOLE_REQUEST', message);
  }
}
