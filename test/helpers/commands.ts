// Commands as a platform publishes them, and the invariant every one of them keeps: exactly one
// reply (DESIGN "Commands"). Every test that sends a command goes through `Commands`, so every
// outcome of every adapter is checked for a second reply, not only the tests written for that.
//
// Why a second reply would be here by the time the check runs: the gateway publishes its replies
// on its one MQTT connection (or into the embedded broker) in order, and the broker hands them to
// this one subscriber in that order. After a reply is taken, a sentinel command is published to the
// same device: a name no adapter has, so the core answers it `unsupported` at once without asking
// any device. Whatever the gateway published before the sentinel's reply, such as a duplicate sent
// alongside the first reply, is in the inbox once the sentinel's reply is. A duplicate that only a
// later device message could cause (a late answer to a command that timed out) is caught by the
// same check after a later command whose answer the device sends after that message: the tests
// that make a device answer late do that. At teardown the whole history is checked once more.
import type { IPublishPacket } from 'mqtt';
import type { Inbox, Teardown } from './harness.js';

/** A command's reply as the gateway publishes it. */
export type Reply = {
  id: string;
  ok: boolean;
  code: unknown;
  message: unknown;
  data: unknown;
  error: { type: string; message: string } | null;
};

export interface SendOptions {
  /** MQTT 5 response topic for the reply, with its correlation data. */
  responseTopic?: string;
  correlationData?: Buffer;
  /** How long to wait for the reply (default: the harness deadline). */
  ms?: number;
}

/** A command name no adapter has: answered `unsupported` by the core, before any device. */
export const SENTINEL = 'one-reply-sentinel';

const REPLY_TOPIC = /\/command\/[^/]+\/reply$/;

function parse(payload: Buffer): Partial<Reply> | undefined {
  try {
    const value: unknown = JSON.parse(payload.toString());
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Partial<Reply>) : undefined;
  } catch {
    return undefined;
  }
}

function idOf(payload: object | string | Buffer): string | undefined {
  if (typeof payload === 'string' || Buffer.isBuffer(payload)) return undefined;
  const id = (payload as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}

export class Commands {
  readonly inbox: Inbox;
  private readonly base: string;
  private readonly responseTopics = new Set<string>();
  /** Ids of replies taken: a command sent without an id takes the next reply not among them. */
  private readonly taken = new Set<string>();
  private sentinels = 0;

  constructor(t: Teardown, inbox: Inbox, base: string) {
    this.inbox = inbox;
    this.base = base;
    // A failure here, not a throw: a teardown that throws keeps tap from running the ones after it,
    // and the gateways and sockets they close would hold the file until its timeout.
    t.teardown(() => {
      try {
        this.check();
      } catch (error) {
        t.fail(error instanceof Error ? error.message : String(error));
      }
    });
  }

  topic(adapter: string, deviceId: string, rest: string): string {
    return `${this.base}/${adapter}/${deviceId}/${rest}`;
  }

  /** Publishes a command (an object as JSON, a string or Buffer as it is) and resolves with its
   *  reply: the one with the command's id, or for a command without one, the next reply on its
   *  topic. Then shows that no command got a second reply (see above). */
  async send(adapter: string, deviceId: string, name: string, payload: object | string | Buffer = {}, options: SendOptions = {}): Promise<Reply> {
    return (await this.sendTaking(adapter, deviceId, name, payload, options)).reply;
  }

  /** `send`, with the reply's MQTT packet (its properties). */
  async sendTaking(
    adapter: string,
    deviceId: string,
    name: string,
    payload: object | string | Buffer = {},
    options: SendOptions = {},
  ): Promise<{ reply: Reply; packet: IPublishPacket }> {
    const sent = await this.publish(adapter, deviceId, name, payload, options);
    const got = await sent.reply(options.ms);
    await this.settle(adapter, deviceId);
    return got;
  }

  /** Publishes a command; `reply()` takes its reply later and `settle` then checks it was the only
   *  one (for tests that publish while the gateway cannot hear). */
  async publish(
    adapter: string,
    deviceId: string,
    name: string,
    payload: object | string | Buffer = {},
    options: SendOptions = {},
  ): Promise<{ reply(ms?: number): Promise<{ reply: Reply; packet: IPublishPacket }> }> {
    const replyTopic = options.responseTopic ?? this.topic(adapter, deviceId, `command/${name}/reply`);
    if (options.responseTopic) this.responseTopics.add(options.responseTopic);
    await this.cover(replyTopic);
    const id = idOf(payload);
    const text = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    const properties = options.responseTopic
      ? { responseTopic: options.responseTopic, ...(options.correlationData ? { correlationData: options.correlationData } : {}) }
      : undefined;
    await this.inbox.client.publishAsync(this.topic(adapter, deviceId, `command/${name}`), text, { qos: 1, ...(properties ? { properties } : {}) });
    return {
      reply: async (ms?: number) => {
        const accept = (body: Buffer): boolean => {
          const reply = parse(body);
          return typeof reply?.id === 'string' && (id !== undefined ? reply.id === id : !this.taken.has(reply.id));
        };
        const { payload: body, packet } = await this.inbox.take(replyTopic, accept, ms);
        const reply = parse(body) as Reply;
        this.taken.add(reply.id);
        return { reply, packet };
      },
    };
  }

  /** Waits for the reply to a sentinel command to the same device, then checks that no command
   *  got more than one reply: replies are published in order, so any the gateway sent before the
   *  sentinel's reply are in the inbox by now. */
  async settle(adapter: string, deviceId: string): Promise<void> {
    const id = `${SENTINEL}-${++this.sentinels}`;
    const topic = this.topic(adapter, deviceId, `command/${SENTINEL}`);
    await this.cover(`${topic}/reply`);
    await this.inbox.client.publishAsync(topic, JSON.stringify({ id }), { qos: 1 });
    const answer = parse((await this.inbox.take(`${topic}/reply`, (p) => parse(p)?.id === id)).payload);
    if (answer?.error?.type !== 'unsupported') {
      throw new Error(`the sentinel command was answered ${JSON.stringify(answer)}; it must be a name no adapter has`);
    }
    this.check();
  }

  /** Throws naming every command id with more than one reply among all messages received. */
  check(): void {
    const topics = new Map<string, string[]>();
    for (const { topic, payload } of this.inbox.history((name) => REPLY_TOPIC.test(name) || this.responseTopics.has(name))) {
      const id = parse(payload)?.id;
      if (typeof id === 'string') topics.set(id, [...(topics.get(id) ?? []), topic]);
    }
    const twice = [...topics].filter(([, where]) => where.length > 1);
    if (twice.length > 0) {
      throw new Error(`a command got more than one reply: ${twice.map(([id, where]) => `id ${id}: ${where.length} replies, on ${where.join(', ')}`).join('; ')}`);
    }
  }

  /** Subscribes to `topic` unless a subscription already matches it (a second matching
   *  subscription would deliver each message twice and fake a duplicate). */
  private async cover(topic: string): Promise<void> {
    if (!this.inbox.covers(topic)) await this.inbox.subscribe(topic);
  }
}

/** What looks like the number `n` but is not it by the rule of numbers sent as strings (README
 *  "Commands"): each is refused, naming the parameter, wherever a command wants `n`. */
export function notTheNumber(n: number): unknown[] {
  return [`${n}.0`, ` ${n}`, true, null, 'five'];
}
