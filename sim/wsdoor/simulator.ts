// A simulated access-control terminal: registers (205), heartbeats (206) at the interval the gateway
// answered, uploads realtimeEvents (207) and answers every command as seed 003 describes. What is
// not wsdoor (connection, pacing, stats, waiting) is SimDevice's.
import type { JsonObject } from '../../src/adapter.js';
import { isObject } from '../../src/json.js';
import { deviceClock, type DeviceClock } from '../../adapters/ws-common/ids.js';
import { Code, type CommandName } from '../../adapters/wsdoor/constants.js';
import { handlerOf, SimDevice, type GatewayTraffic, type Responded, type SimDeviceOptions } from '../ws-common/simulator.js';
import {
  decodeGatewayMessage,
  encodeHeartbeat,
  encodeRealtimeEvent,
  encodeRegister,
  encodeReply,
  type RealtimeEventData,
  type RegisterData,
} from './codec.js';

export interface DoorSimulatorOptions extends SimDeviceOptions {
  ip?: string;
  mac?: string;
  /** 0 entrance and exit (default), 1 exit, 2 entrance. */
  type?: string;
  /** Time zone of the heartbeat `time` (default Asia/Shanghai). */
  timeZone?: string;
}

/** The gateway's answer to an upload. */
export interface DoorResponse {
  code: string;
  interval: string | undefined;
  data: unknown;
}

/** A command the terminal received and the answer it gave. */
export interface DoorCommandSeen {
  commandId: string;
  name: string;
  content: unknown;
  reply: JsonObject;
}

interface DoorCommand {
  commandId: string;
  name: string;
  content: unknown;
}

type Answer = { code: string; body: { data?: unknown; content?: unknown } };

const USER_FIELDS = ['user', 'userId', 'pwd', 'name', 'role', 'img'] as const;

function ok(data: unknown = ''): Answer {
  return { code: Code.ok, body: { data } };
}

function failed(data: string): Answer {
  return { code: Code.failure, body: { data } };
}

export class DoorSimulator extends SimDevice<DoorCommandSeen, string, DoorResponse, DoorCommand> {
  /** The heartbeat interval (s) the gateway answered to the last register. */
  intervalS: number | undefined;
  /** The terminal's users, by userId, as commands left them. */
  readonly users = new Map<string, JsonObject>();
  /** Events sent, by eventid, for queryEvent. */
  readonly events = new Map<string, RealtimeEventData>();

  private readonly codes = new Map<string, string>();
  private readonly clock: DeviceClock;
  private eventSequence = 0;
  private lastEventId: string | undefined;
  private readonly handlers: Record<CommandName, (content: JsonObject) => Answer> = {
    addUser: (content) => this.putUser(content, true),
    editUser: (content) => this.putUser(content, false),
    deleteUser: (content) => {
      const userId = content.userId;
      if (typeof userId !== 'string' || !this.users.delete(userId)) return failed('no such user');
      return ok();
    },
    selectUser: (content) => {
      const users = [...this.users.values()].filter(
        (user) =>
          (content.userId === undefined || user.userId === content.userId) &&
          (content.name === undefined || user.name === content.name),
      );
      return { code: Code.userList, body: { content: users } };
    },
    compareUser: (content) => {
      const known = [...this.users.values()].some((user) => user.img === content.img);
      return { code: Code.compare, body: { content: { exit: known ? '1' : '0' } } };
    },
    queryEvent: (content) => {
      const event = typeof content.eventid === 'string' ? this.events.get(content.eventid) : undefined;
      if (!event) return failed('no such event');
      return { code: Code.eventQuery, body: { content: { ...event } } };
    },
  };

  constructor(protected override readonly options: DoorSimulatorOptions) {
    super(options);
    this.clock = deviceClock(options.timeZone ?? 'Asia/Shanghai');
  }

  /** The time, `yyyy-MM-dd HH:mm:ss`, as the terminal's clock shows it. */
  now(offsetS = 0): string {
    return this.clock.format(new Date(Date.now() + offsetS * 1000));
  }

  /** Connects, registers and heartbeats: what a terminal does at power-on. */
  async start(): Promise<DoorResponse> {
    if (!this.connected) await this.connect();
    return this.register();
  }

  /** Sends anything (a message, or text that is not JSON) and waits for the next response: the
   *  protocol's answers carry no id, and come in request order. */
  request(message: JsonObject | string | Buffer): Promise<DoorResponse> {
    return this.exchange(message);
  }

  /** Registers (205); `overrides.sn` registers as another terminal on the same connection. */
  async register(overrides: Partial<RegisterData> = {}): Promise<DoorResponse> {
    const data: RegisterData = {
      ip: this.options.ip ?? '192.168.0.102',
      mac: this.options.mac ?? `SIM${this.sn}`.slice(0, 14),
      sn: this.sn,
      type: this.options.type ?? '0',
      ...overrides,
    };
    const response = await this.request(encodeRegister(data));
    const interval = Number(response.interval);
    if (response.code === Code.ok && Number.isInteger(interval) && interval > 0) {
      this.intervalS = interval;
      this.heartbeatEvery(interval);
    }
    return response;
  }

  /** A heartbeat (206); `time` sends another clock reading (a wrong one, say). */
  heartbeat(time = this.now()): Promise<DoorResponse> {
    return this.request(encodeHeartbeat(time));
  }

  /** A realtimeEvent (207): a passage (type 1) with the snapshot, unless `event` says otherwise. */
  async sendEvent(event: Partial<RealtimeEventData> = {}): Promise<DoorResponse> {
    const full: RealtimeEventData = {
      eventid: event.eventid ?? this.nextEventId(),
      type: event.type ?? '1',
      data: event.data ?? { userId: '77986', img: this.image, door: '0' },
    };
    this.events.set(full.eventid, full);
    // A long simulator run keeps only recent events for queryEvent.
    if (this.events.size > 1000) this.events.delete(this.events.keys().next().value as string);
    this.lastEventId = full.eventid;
    return this.upload(full);
  }

  /** Sends an event again with its eventid, as a terminal does when the answer did not come. */
  resendEvent(eventid = this.lastEventId): Promise<DoorResponse> {
    const event = eventid === undefined ? undefined : this.events.get(eventid);
    if (!event) return Promise.reject(new Error(`no event ${eventid ?? ''} to send again`));
    return this.upload(event);
  }

  /** The next command (of `name`, if given) is answered 500 with `data`. */
  failNext(name?: string, data = 'simulated failure'): void {
    this.failNextWith(name, data);
  }

  /** Answers a command's success with another code (queryEvent with 207, as some firmware does). */
  answerWith(name: CommandName, code: string): void {
    this.codes.set(name, code);
  }

  protected sendTraffic(): Promise<DoorResponse> {
    return this.sendEvent();
  }

  protected read(message: JsonObject): GatewayTraffic<DoorResponse, DoorCommand> {
    const decoded = decodeGatewayMessage(message);
    if (decoded.kind === 'response') {
      return { kind: 'answer', answer: { code: decoded.code, interval: decoded.interval, data: decoded.data } };
    }
    if (decoded.kind === 'command') return { kind: 'command', command: decoded };
    return { kind: 'other' };
  }

  protected respond(command: DoorCommand): Responded<DoorCommandSeen> {
    const answer = this.answer(command.name, isObject(command.content) ? command.content : {});
    const reply = encodeReply(command.commandId, answer.code, answer.body);
    return { reply, seen: { commandId: command.commandId, name: command.name, content: command.content, reply } };
  }

  private nextEventId(): string {
    this.eventSequence += 1;
    return `${this.now().replace(/\D/g, '')}${String(this.eventSequence % 10_000).padStart(4, '0')}`;
  }

  private upload(event: RealtimeEventData): Promise<DoorResponse> {
    return this.count(this.request(encodeRealtimeEvent(event)), (response) => response.code === Code.ok);
  }

  private answer(name: string, content: JsonObject): Answer {
    const forced = this.takeFailure(name);
    if (forced !== undefined) return failed(forced);
    const handler = handlerOf<(content: JsonObject) => Answer>(this.handlers, name);
    if (!handler) return failed(`unknown command ${name}`);
    const answer = handler(content);
    const code = this.codes.get(name);
    return code !== undefined && answer.code !== Code.failure ? { ...answer, code } : answer;
  }

  private putUser(content: JsonObject, adding: boolean): Answer {
    const userId = content.userId;
    if (typeof userId !== 'string' || userId === '') return failed('userId is required');
    const existing = this.users.get(userId);
    if (adding && USER_FIELDS.some((field) => typeof content[field] !== 'string')) return failed('every user field is required');
    if (!adding && !existing) return failed('no such user');
    const user: JsonObject = { ...existing };
    for (const field of USER_FIELDS) if (content[field] !== undefined) user[field] = content[field];
    this.users.set(userId, user);
    return ok();
  }
}
