// wsdoor: access-control terminals speaking JSON over WebSocket (seed 003).
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { AdapterFactory } from '../../src/adapter.js';
import { WsAdapter } from '../ws-common/adapter.js';
import type { WsConnectionEnv } from '../ws-common/connection.js';
import type { WsdoorConfig } from './config.js';
import { DoorConnection } from './connection.js';

export class WsdoorAdapter extends WsAdapter<WsdoorConfig, DoorConnection> {
  protected createConnection(socket: WebSocket, remote: string, transport: Socket, env: WsConnectionEnv<WsdoorConfig>): DoorConnection {
    return new DoorConnection(socket, remote, transport, env);
  }
}

export const createWsdoorAdapter: AdapterFactory<WsdoorConfig> = (context) => new WsdoorAdapter(context);
