// A small real adapter for the core's tests: newline-delimited JSON over TCP. A device says
// {"hello": id}, sends {"event": name, "data": {...}} (answered {"ack": name, "ok": bool}) and
// answers commands {"command": name, "id", "data"} with {"answer": id, ...}.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { Adapter, AdapterContext, CommandAnswer, DeviceCommand, DeviceHandle, DeviceSession } from '../../src/adapter.js';
import type { ProtocolError } from '../../src/errors.js';
import { isObject } from '../../src/json.js';

export interface EchoConfig {
  enabled: boolean;
  answers?: Record<string, { mode: 'local' | 'mqtt'; timeoutMs: number }>;
}

export class EchoAdapter implements Adapter {
  readonly id = 'echo';
  private readonly context: AdapterContext<EchoConfig>;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly waiting = new Map<string, (answer: CommandAnswer) => void>();

  constructor(context: AdapterContext<EchoConfig>) {
    this.context = context;
  }

  async start(): Promise<string> {
    this.server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private accept(socket: Socket): void {
    let handle: DeviceHandle | undefined;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const send = (message: object): void => {
      socket.write(`${JSON.stringify(message)}\n`);
    };
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('close', () => handle?.disconnect('closed'));
    createInterface({ input: socket }).on('line', (line) => {
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        this.context.events.protocolError('bad_json', { remote });
        return;
      }
      if (!isObject(message)) return;
      if (typeof message.hello === 'string') {
        const deviceId = message.hello;
        try {
          const livenessMs = typeof message.livenessMs === 'number' ? message.livenessMs : 0;
          const session: DeviceSession = { execute: (command) => this.execute(socket, command), close: () => socket.destroy() };
          handle = this.context.devices.connect({ deviceId, remote, info: { kind: 'echo' } }, session, { livenessMs });
        } catch (err) {
          this.context.events.protocolError((err as ProtocolError).reason, { remote });
          send({ refused: deviceId });
          return;
        }
        send({ welcome: deviceId });
      } else if (isObject(message.state) && handle) {
        const name = typeof message.n === 'number' ? message.n : 0;
        handle.setState(message.state).then(() => send({ stated: name }));
      } else if (message.beat === true && handle) {
        handle.touch();
      } else if (typeof message.event === 'string' && handle) {
        const name = message.event;
        const device = handle;
        const publish = (): Promise<void> => device.uplink(name, isObject(message.data) ? message.data : {}, { media: ['img'] });
        const key = typeof message.key === 'string' ? message.key : undefined;
        const run =
          key === undefined ? publish() : message.scope === 'device' ? device.dedupe(key, publish, { scope: 'device' }) : device.dedupe(key, publish);
        run.then(
          () => send({ ack: name, ok: true }),
          () => send({ ack: name, ok: false }),
        );
      } else if (typeof message.ask === 'string' && handle) {
        const name = message.ask;
        handle.request(name, isObject(message.data) ? message.data : {}, { default: true }).then(
          (answer) => send({ told: name, ...answer }),
          () => send({ told: name, failed: true }),
        );
      } else if (typeof message.answer === 'string') {
        this.waiting.get(message.answer)?.({
          ok: message.ok === true,
          code: typeof message.code === 'number' ? message.code : null,
          message: typeof message.message === 'string' ? message.message : null,
          data: isObject(message.data) ? message.data : null,
        });
      }
    });
  }

  private execute(socket: Socket, command: DeviceCommand): Promise<CommandAnswer> {
    return new Promise((resolve) => {
      this.waiting.set(command.id, resolve);
      command.signal.addEventListener('abort', () => this.waiting.delete(command.id));
      socket.write(`${JSON.stringify({ command: command.name, id: command.id, data: command.data })}\n`);
    });
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** The device side, as a test drives it. */
export class EchoDevice {
  readonly socket: Socket;
  private readonly lines: string[] = [];
  private readonly readers: Array<() => void> = [];
  /** When false, commands are not answered (the test answers or lets them time out). */
  autoAnswer = true;

  constructor(socket: Socket) {
    this.socket = socket;
    createInterface({ input: socket }).on('line', (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      if (typeof message.command === 'string' && this.autoAnswer) {
        const data = (message.data ?? {}) as Record<string, unknown>;
        if (data.silent === true) return;
        const fail = data.fail === true;
        this.send({ answer: message.id, ok: !fail, code: fail ? 7 : 0, message: fail ? 'Refused' : 'Success', data: { echo: data } });
        return;
      }
      this.lines.push(line);
      this.readers.shift()?.();
    });
  }

  static async connect(address: string, deviceId: string): Promise<EchoDevice> {
    const [host, port] = address.split(':') as [string, string];
    const { connect } = await import('node:net');
    const socket = connect(Number(port), host);
    const device = new EchoDevice(socket);
    device.send({ hello: deviceId });
    await device.next();
    return device;
  }

  /** Several messages in one write: the gateway reads them in one chunk. */
  send(...messages: object[]): void {
    this.socket.write(messages.map((message) => `${JSON.stringify(message)}\n`).join(''));
  }

  /** The next message that is not a command, within the test's deadline. */
  async next(): Promise<Record<string, unknown>> {
    while (this.lines.length === 0) await new Promise<void>((resolve) => this.readers.push(resolve));
    return JSON.parse(this.lines.shift() as string) as Record<string, unknown>;
  }

  close(): void {
    this.socket.destroy();
  }
}

import { join } from 'node:path';
import type { AdapterDefinition } from '../../src/gateway.js';
import { ROOT } from '../../src/paths.js';

export function echoAdapter(answers: EchoConfig['answers'] = {}): AdapterDefinition {
  return {
    id: 'echo',
    factory: ((context: AdapterContext<EchoConfig>) => new EchoAdapter(context)) as AdapterDefinition['factory'],
    config: { enabled: true, answers },
    mappingsDir: join(ROOT, 'test/fixtures/mappings/echo'),
  };
}
