// Every topic of the contract is built here and nowhere else.

/** Longest device identity taken as a topic level; longer ones are not identities but input. */
const MAX_IDENTITY_LENGTH = 256;
/** Longest message name (`event/{name}`, `request/{name}`) a device may introduce. */
export const MAX_NAME_LENGTH = 64;

// MQTT forbids NUL in a topic and Mosquitto closes the connection of a client that publishes to
// one with a control character in it: one device's identity must not cut the gateway's link.
const UNSAFE_LEVEL = /[/+#\u0000-\u001f\u007f-\u009f]/;
/** Half a UTF-16 surrogate pair: no UTF-8 encoding exists for it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `level` cannot be one level of a topic the gateway publishes, or undefined when it can. The
 *  one check of device identities (at most MAX_IDENTITY_LENGTH) and message names. */
export function topicLevelProblem(level: string, maxLength = MAX_IDENTITY_LENGTH): string | undefined {
  if (level === '') return 'is empty';
  if (level.length > maxLength) return `is longer than ${maxLength} characters`;
  if (UNSAFE_LEVEL.test(level)) return 'contains "/", "+", "#", NUL or a control character';
  if (level.trim() !== level) return 'begins or ends with white space';
  if (LONE_SURROGATE.test(level)) return 'is not valid UTF-8';
  return undefined;
}

/** A device identity must be one topic level: see topicLevelProblem. */
export function isValidTopicLevel(id: unknown): id is string {
  return typeof id === 'string' && topicLevelProblem(id) === undefined;
}

export interface CommandTopic {
  adapter: string;
  deviceId: string;
  name: string;
}

export class Topics {
  readonly base: string;
  readonly bridgeState: string;
  readonly bridgeInfo: string;
  readonly bridgeEvent: string;

  constructor(base: string) {
    this.base = base;
    this.bridgeState = `${base}/bridge/state`;
    this.bridgeInfo = `${base}/bridge/info`;
    this.bridgeEvent = `${base}/bridge/event`;
  }

  device(adapter: string, deviceId: string, kind: 'availability' | 'info' | 'state'): string {
    return `${this.base}/${adapter}/${deviceId}/${kind}`;
  }

  event(adapter: string, deviceId: string, name: string): string {
    return `${this.base}/${adapter}/${deviceId}/event/${name}`;
  }

  media(adapter: string, deviceId: string, field: string): string {
    return `${this.base}/${adapter}/${deviceId}/media/${field}`;
  }

  request(adapter: string, deviceId: string, name: string): string {
    return `${this.base}/${adapter}/${deviceId}/request/${name}`;
  }

  command(adapter: string, deviceId: string, name: string): string {
    return `${this.base}/${adapter}/${deviceId}/command/${name}`;
  }

  commandReply(adapter: string, deviceId: string, name: string): string {
    return `${this.base}/${adapter}/${deviceId}/command/${name}/reply`;
  }

  commandFilter(adapter: string): string {
    return `${this.base}/${adapter}/+/command/+`;
  }

  deviceFilter(adapter: string, kind: string): string {
    return `${this.base}/${adapter}/+/${kind}`;
  }

  /** The device of `{base}/{adapter}/{deviceId}/{kind}`. */
  deviceOf(topic: string): string | undefined {
    return topic.slice(this.base.length + 1).split('/')[1];
  }

  /** Multi mode: one instance's own retained state and info. */
  instance(id: string, kind: 'state' | 'info'): string {
    return `${this.base}/bridge/${id}/${kind}`;
  }

  /** Multi mode, between instances: commands handed to the instance that holds their device, and
   *  notices that a device of it connected to another instance. */
  internal(id: string, kind: 'forward' | 'released'): string {
    return `${this.base}/bridge/${id}/${kind}`;
  }

  instanceStateFilter(): string {
    return `${this.base}/bridge/+/state`;
  }

  requestReplyFilter(adapter: string): string {
    return `${this.base}/${adapter}/+/request/+/reply`;
  }

  /** `{base}/{adapter}/{deviceId}/{kind}/{name}[/reply]` split into its parts, if it is one. */
  parse(topic: string, kind: 'command' | 'request', reply: boolean): CommandTopic | undefined {
    if (!topic.startsWith(`${this.base}/`)) return undefined;
    const levels = topic.slice(this.base.length + 1).split('/');
    if (levels.length !== (reply ? 5 : 4) || levels[2] !== kind || (reply && levels[4] !== 'reply')) return undefined;
    const [adapter, deviceId, , name] = levels as [string, string, string, string];
    return { adapter, deviceId, name };
  }
}
