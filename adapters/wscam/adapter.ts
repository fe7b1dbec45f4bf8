// wscam: snapshot cameras speaking JSON over WebSocket (seed 004).
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { AdapterFactory } from '../../src/adapter.js';
import { WsAdapter } from '../ws-common/adapter.js';
import type { WsConnectionEnv } from '../ws-common/connection.js';
import type { WscamConfig } from './config.js';
import { CamConnection } from './connection.js';

export class WscamAdapter extends WsAdapter<WscamConfig, CamConnection> {
  protected createConnection(socket: WebSocket, remote: string, transport: Socket, env: WsConnectionEnv<WscamConfig>): CamConnection {
    return new CamConnection(socket, remote, transport, env);
  }
}

export const createWscamAdapter: AdapterFactory<WscamConfig> = (context) => new WscamAdapter(context);
