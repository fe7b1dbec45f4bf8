// The Adapter both JSON-over-WebSocket adapters are: a listener and the connections it accepts.
// The core routes each command to the connection that holds the device now.
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Adapter, AdapterContext } from '../../src/adapter.js';
import type { WsListenerConfig } from './config.js';
import type { WsConnectionEnv } from './connection.js';
import { CorrelationIds } from './ids.js';
import { AllowList } from './identity.js';
import { WsListener, type WsPeer } from './listener.js';

export abstract class WsAdapter<C extends WsListenerConfig, Conn extends { open(): WsPeer }>
  implements Adapter
{
  private listener: WsListener | undefined;

  constructor(protected readonly context: AdapterContext<C>) {}

  get id(): string {
    return this.context.id;
  }

  protected abstract createConnection(socket: WebSocket, remote: string, transport: Socket, env: WsConnectionEnv<C>): Conn;

  async start(): Promise<string> {
    const env: WsConnectionEnv<C> = {
      context: this.context,
      allowList: new AllowList(this.context.config.allowSn),
      ids: new CorrelationIds(this.context.deviceTimeZone),
    };
    const listener = new WsListener({
      adapter: this.id,
      config: this.context.config,
      logger: this.context.logger,
      accept: (socket, remote, transport) => this.createConnection(socket, remote, transport, env).open(),
      badRequest: (remote) => this.context.events.protocolError('bad_request', { remote }),
    });
    const address = await listener.start();
    this.listener = listener;
    if (env.allowList.enabled) this.context.logger.info(`${this.id} accepts only the sn in its allow-list`);
    this.context.logger.info(`${this.id} listening on ${listener.scheme}://${address}`);
    return address;
  }

  async stop(): Promise<void> {
    const listener = this.listener;
    if (!listener) return;
    this.listener = undefined;
    listener.stopAccepting();
    for (const peer of listener.peers()) peer.close('shutdown');
    await listener.closed();
  }
}
