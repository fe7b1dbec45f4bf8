// The Adapter both JSON-over-WebSocket adapters are: a listener, their connections, and commands
// routed to the connection that currently holds the device.
import type { WebSocket } from 'ws';
import type { Adapter, AdapterContext, CommandAnswer, DeviceCommand } from '../../src/adapter.js';
import { OfflineError } from '../../src/errors.js';
import type { WsListenerConfig } from './config.js';
import type { WsConnectionEnv, WsDeviceConnection } from './connection.js';
import { CorrelationIds } from './ids.js';
import { AllowList } from './identity.js';
import { WsListener } from './listener.js';

export abstract class WsAdapter<C extends WsListenerConfig, Conn extends WsDeviceConnection<C, unknown>>
  implements Adapter
{
  private listener: WsListener | undefined;
  private readonly connections = new Set<Conn>();
  private readonly byDevice = new Map<string, Conn>();

  constructor(protected readonly context: AdapterContext<C>) {}

  get id(): string {
    return this.context.id;
  }

  /** Connections accepted and not yet ended (identified or not). */
  get connectionCount(): number {
    return this.connections.size;
  }

  protected abstract createConnection(socket: WebSocket, remote: string, env: WsConnectionEnv<C>): Conn;

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
      accept: (socket, remote) => {
        const connection = this.createConnection(socket, remote, env);
        this.connections.add(connection);
        return connection.open({
          bound: (deviceId) => this.byDevice.set(deviceId, connection),
          ended: () => {
            this.connections.delete(connection);
            const deviceId = connection.deviceId;
            if (deviceId !== undefined && this.byDevice.get(deviceId) === connection) this.byDevice.delete(deviceId);
          },
        });
      },
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
    for (const connection of [...this.connections]) connection.close('shutdown');
    await listener.closed();
  }

  async execute(command: DeviceCommand): Promise<CommandAnswer> {
    const connection = this.byDevice.get(command.deviceId);
    if (!connection?.online) throw new OfflineError(command.deviceId);
    return connection.execute(command);
  }
}
