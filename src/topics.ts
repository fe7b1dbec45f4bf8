// Every topic of the contract is built here and nowhere else.

/** Longest device identity taken as a topic level; longer ones are not identities but input. */
export const MAX_IDENTITY_LENGTH = 256;

/** Why `id` cannot be a device's topic level, or undefined when it can. */
export function topicLevelProblem(id: string): string | undefined {
  if (id === '') return 'is empty';
  if (/[/+#\u0000]/.test(id)) return 'contains "/", "+", "#" or NUL';
  if (id.length > MAX_IDENTITY_LENGTH) return `is longer than ${MAX_IDENTITY_LENGTH} characters`;
  if (Buffer.from(id, 'utf8').toString('utf8') !== id) return 'is not valid UTF-8';
  return undefined;
}

/** A device identity must be one topic level: not empty, no `/`, `+`, `#` or NUL, not too long. */
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
