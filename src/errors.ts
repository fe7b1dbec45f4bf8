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

/** A message could not be handed over to the broker; the device gets its protocol's failure. */
export class HandoverError extends GatewayError {
  constructor(message: string, options?: ErrorOptions) {
    super('G2M_ERR_HANDOVER', message, options);
  }
}

/** Input that breaks the protocol: bad JSON, oversize, unsafe keys, bad identity. */
export class ProtocolError extends GatewayError {
  /** Short reason for metrics and `bridge/event` (`bad_json`, `oversize`, ...). */
  readonly reason: string;
  constructor(reason: string, message: string) {
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
