// The HTTP(S) server and WebSocket server of one adapter, on every path, with a maxPayload bound
// checked by ws before a message is buffered, no permessage-deflate (a small compressed frame must
// not inflate past the bound, and devices do not ask for it), pings for keep-alive, and wss:// when
// a certificate is configured.
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { DisconnectReason } from '../../src/adapter.js';
import { ConfigError, PortInUseError } from '../../src/errors.js';
import type { WsListenerConfig } from './config.js';

/** What the listener needs from a connection it accepted. */
export interface WsPeer {
  /** The peer did not answer the previous ping. */
  onPingTimeout(): void;
  close(reason: DisconnectReason): void;
}

export interface WsListenerOptions {
  adapter: string;
  config: Readonly<WsListenerConfig>;
  logger: Logger;
  /** `transport`: the TCP (or TLS) socket under `socket`, for corking and backpressure. */
  accept(socket: WebSocket, remote: string, transport: Socket): WsPeer;
  /** Bytes that are not an HTTP request (or not sent in time) reached the listener. */
  badRequest(remote: string): void;
}

interface Tracked {
  peer: WsPeer;
  alive: boolean;
}

/** Time sockets get to finish their close handshake at stop before they are cut. */
const STOP_GRACE_MS = 1500;

function remoteOf(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown';
  return `${address.includes(':') ? `[${address}]` : address}:${socket.remotePort ?? 0}`;
}

export class WsListener {
  private server: Server | HttpsServer | undefined;
  private wss: WebSocketServer | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly tracked = new Map<WebSocket, Tracked>();
  private secure = false;
  private serverClosed: Promise<void> | undefined;

  constructor(private readonly options: WsListenerOptions) {}

  get scheme(): 'ws' | 'wss' {
    return this.secure ? 'wss' : 'ws';
  }

  /** Resolves with `host:port` once listening. */
  async start(): Promise<string> {
    const { adapter, config, logger } = this.options;
    const server = await this.createServer();
    this.server = server;
    const wss = new WebSocketServer({
      server,
      maxPayload: config.maxPayloadBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.wss = wss;
    wss.on('error', (err) => logger.error({ err }, `${adapter} WebSocket server error`));
    wss.on('connection', (socket, request: IncomingMessage) => this.connection(socket, request));
    // With a listener of ours, Node leaves the answer and the close to it (as its default would).
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code?.startsWith('HPE_') || err.code === 'ERR_HTTP_REQUEST_TIMEOUT') this.options.badRequest(remoteOf(socket as Socket));
      if (socket.writable && (socket as Socket).bytesWritten === 0) {
        socket.write(`HTTP/1.1 ${err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request'}\r\nconnection: close\r\n\r\n`);
      }
      socket.destroy();
    });
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end(`${adapter}: WebSocket only\n`);
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          err.code === 'EADDRINUSE'
            ? new PortInUseError(`the ${adapter} listener`, config.port, `GATE2MQTT_${adapter.toUpperCase()}_PORT`)
            : err,
        );
      };
      server.once('error', onError);
      server.listen({ host: config.host, port: config.port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => logger.error({ err }, `${adapter} listener error`));
    if (config.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.sweep(), config.pingIntervalMs);
      this.pingTimer.unref();
    }
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${host}:${address.port}`;
  }

  /** The connections accepted and not closed yet, identified or not. */
  peers(): WsPeer[] {
    return [...this.tracked.values()].map((tracked) => tracked.peer);
  }

  /** Stops accepting; the adapter closes its connections, then `closed()` waits for them. */
  stopAccepting(): void {
    clearInterval(this.pingTimer);
    const server = this.server;
    if (!server || this.serverClosed) return;
    // Resolves once every socket, upgraded ones included, has ended.
    this.serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    this.wss?.close();
    server.closeIdleConnections();
  }

  async closed(): Promise<void> {
    this.stopAccepting();
    const cut = setTimeout(() => {
      for (const socket of this.tracked.keys()) socket.terminate();
      this.server?.closeAllConnections();
    }, STOP_GRACE_MS);
    cut.unref();
    await this.serverClosed;
    clearTimeout(cut);
  }

  private async createServer(): Promise<Server | HttpsServer> {
    const { adapter, config, logger } = this.options;
    if (config.tlsCert === '' && config.tlsKey === '') return createHttpServer();
    if (config.tlsCert === '' || config.tlsKey === '') {
      throw new ConfigError(`${adapter}.tlsCert and ${adapter}.tlsKey: set both for wss://, or neither`);
    }
    const [cert, key] = await Promise.all([readFile(config.tlsCert), readFile(config.tlsKey)]).catch((err: unknown) => {
      throw new ConfigError(`${adapter}.tlsCert/tlsKey: ${err instanceof Error ? err.message : String(err)}`);
    });
    let server: HttpsServer;
    try {
      server = createHttpsServer({ cert, key });
    } catch (err) {
      throw new ConfigError(`${adapter}.tlsCert/tlsKey: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.secure = true;
    server.on('tlsClientError', (err, socket) => {
      logger.debug({ err, remote: remoteOf(socket) }, `${adapter} TLS handshake failed`);
    });
    return server;
  }

  private connection(socket: WebSocket, request: IncomingMessage): void {
    const remote = remoteOf(request.socket);
    let peer: WsPeer;
    try {
      peer = this.options.accept(socket, remote, request.socket as Socket);
    } catch (err) {
      this.options.logger.error({ err, remote }, `${this.options.adapter} could not accept a connection`);
      socket.terminate();
      return;
    }
    const tracked: Tracked = { peer, alive: true };
    this.tracked.set(socket, tracked);
    socket.on('pong', () => {
      tracked.alive = true;
    });
    socket.once('close', () => this.tracked.delete(socket));
  }

  private sweep(): void {
    for (const [socket, tracked] of this.tracked) {
      if (!tracked.alive) {
        tracked.peer.onPingTimeout();
        continue;
      }
      tracked.alive = false;
      socket.ping();
    }
  }
}
