// wscam: snapshot cameras speaking JSON over WebSocket (seed 004).
import type { WebSocket } from 'ws';
import type { AdapterFactory } from '../../src/adapter.js';
import { WsAdapter } from '../ws-common/adapter.js';
import type { WsConnectionEnv } from '../ws-common/connection.js';
import type { WscamConfig } from './config.js';
import { CamConnection } from './connection.js';

export class WscamAdapter extends WsAdapter<WscamConfig, CamConnection> {
  protected createConnection(socket: WebSocket, remote: string, env: WsConnectionEnv<WscamConfig>): CamConnection {
    return new CamConnection(socket, remote, env);
  }
}

export const createWscamAdapter: AdapterFactory<WscamConfig> = (context) => new WscamAdapter(context);
