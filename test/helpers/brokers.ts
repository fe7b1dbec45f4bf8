// Brokers a test can restart or cut off: real brokers, real sockets.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { EmbeddedBroker } from '../../src/broker.js';
import { EXTERNAL_BROKER, within, type Teardown } from './harness.js';
import { accepting, freePort } from './mosquitto.js';

export interface Restartable {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A broker that forgets everything when restarted: aedes of the test's own, or, in the
 *  Mosquitto run, a private Mosquitto process (the machine's own is not restarted by tests). */
export async function restartableBroker(t: Teardown): Promise<Restartable> {
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  let stopCurrent: (() => Promise<void>) | undefined;
  const start = async (): Promise<void> => {
    if (EXTERNAL_BROKER) {
      const child: ChildProcess = spawn('mosquitto', ['-p', String(port)], { stdio: 'ignore' });
      stopCurrent = () => new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    } else {
      const broker = new EmbeddedBroker({ host: '127.0.0.1', port, wsEnabled: false, wsPort: 0, logger: pino({ level: 'silent' }) });
      await broker.start();
      stopCurrent = () => broker.stop();
    }
    await within(accepting(url), `the broker on port ${port} to accept connections`);
  };
  const stop = async (): Promise<void> => {
    const current = stopCurrent;
    stopCurrent = undefined;
    await current?.();
  };
  await start();
  t.teardown(stop);
  return { url, start, stop };
}

/** A TCP proxy in front of a broker whose connections a test can cut and restore. */
export class CuttableLink {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Pairs of [broker side, client side], for hold(). */
  private readonly pairs = new Set<[Socket, Socket]>();
  private holding = false;
  private readonly target: { host: string; port: number };
  port = 0;

  constructor(brokerUrl: string) {
    const { hostname, port } = new URL(brokerUrl);
    this.target = { host: hostname, port: Number(port || 1883) };
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async open(): Promise<void> {
    const server = createServer((inbound) => {
      const outbound = connect(this.target.port, this.target.host);
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          inbound.destroy();
          outbound.destroy();
        });
      }
      const pair: [Socket, Socket] = [outbound, inbound];
      this.pairs.add(pair);
      outbound.on('close', () => this.pairs.delete(pair));
      inbound.pipe(outbound);
      if (!this.holding) outbound.pipe(inbound);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Holds what the broker sends (its acknowledgements, its deliveries) until release(); what the
   *  clients send still reaches the broker. */
  hold(): void {
    this.holding = true;
    for (const [broker, client] of this.pairs) broker.unpipe(client);
  }

  release(): void {
    this.holding = false;
    for (const [broker, client] of this.pairs) broker.pipe(client);
  }

  /** Drops every connection and refuses new ones until open() again. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise((resolve) => server.close(resolve)) : Promise.resolve();
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
