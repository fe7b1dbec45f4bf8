// The gateway's HTTP server: operations endpoints here; the gantry adapter adds its upload route.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Metrics } from './metrics.js';
import { PasswordCheck } from './passwd.js';

export interface HttpOptions {
  bodyLimitBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** http.trustProxy as configured ('' off). */
  trustProxy?: string;
  cert: string;
  key: string;
  /** A token or users: every route but OPEN_ROUTES needs one of them. */
  auth?: { token: string; users: ReadonlyArray<{ username: string; password: string }> };
  metrics: Metrics;
  /** What /readyz reports; 200 only when every part is true. */
  readiness: () => Record<string, boolean>;
  /** The AsyncAPI document served at /asyncapi.json; built at its first request, then kept. */
  asyncapi?: () => object;
}

/** http.trustProxy for fastify: '' off, 'true' every proxy, a number the hops to trust, else the
 *  proxies' addresses or CIDR ranges. Behind a load balancer a gantry's address (its `{ip}` in the
 *  control URL, its `remote`) is then the X-Forwarded-For one, not the balancer's. */
export function trustProxyOption(value: string): boolean | number | string[] {
  const text = value.trim();
  if (text === '' || text === 'false') return false;
  if (text === 'true') return true;
  if (/^\d+$/.test(text)) return Number(text);
  return text.split(',').map((part) => part.trim()).filter((part) => part !== '');
}

export function createHttpServer(options: HttpOptions): FastifyInstance {
  // Without these fastify has no request timeout, and Node's headers timeout (which also ends a
  // connection that never sends a byte) is 60 s checked every 30 s: a client that dribbles its
  // body would hold its connection for ever. Checked every second, so a deadline is kept to that.
  const timeouts = {
    ...(options.headersTimeoutMs > 0 ? { headersTimeout: options.headersTimeoutMs } : {}),
    connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs || 1000, options.requestTimeoutMs || 1000),
  };
  // forceCloseConnections: a device's idle keep-alive connection must not hold up the 5 s shutdown.
  const base = {
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: options.requestTimeoutMs,
    logger: false,
    return503OnClosing: true,
    forceCloseConnections: true,
  } as const;
  // fastify's overloads do not take the union itself: a string list is one form it accepts.
  const proxy = trustProxyOption(options.trustProxy ?? '');
  const trust = { trustProxy: proxy as string[] };
  const app: FastifyInstance =
    options.cert && options.key
      ? (Fastify({ ...base, ...trust, https: { cert: readFileSync(options.cert), key: readFileSync(options.key), ...timeouts } }) as unknown as FastifyInstance)
      : Fastify({ ...base, ...trust, http: timeouts });
  guard(app, options.auth);
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const parts = options.readiness();
    const ready = Object.values(parts).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ ready, ...parts });
  });
  app.get('/metrics', async (_request, reply) => {
    const body = await options.metrics.registry.metrics();
    return reply.type(options.metrics.registry.contentType).send(body);
  });
  const { asyncapi } = options;
  if (asyncapi) {
    let document: string | undefined;
    app.get('/asyncapi.json', async (_request, reply) => {
      document ??= JSON.stringify(asyncapi());
      return reply.type('application/json; charset=utf-8').send(document);
    });
  }
  return app;
}

/** What stays open when http.auth is set: gantries authenticate their uploads with binfile-auth,
 *  and probes must not need a secret. Everything else, routes added later included, is guarded. */
const OPEN_ROUTES = new Set(['POST /monitor.do', 'POST //monitor.do', 'GET /healthz', 'HEAD /healthz', 'GET /readyz', 'HEAD /readyz']);

// One header per scheme, Basic first: Chromium reads only the first challenge of a combined header,
// and knows no Bearer, so a browser (the console) would never offer its login.
const CHALLENGE = ['Basic realm="gate2mqtt", charset="UTF-8"', 'Bearer realm="gate2mqtt"'];

/** One onRequest hook on the root, added before any route: it runs for every route of every
 *  plugin, and for unknown paths too (a 401 there tells nothing about which paths exist). */
function guard(app: FastifyInstance, auth: HttpOptions['auth']): void {
  const token = auth?.token ? digest(auth.token) : undefined;
  const users = new PasswordCheck(auth?.users ?? []);
  if (!token && users.empty) return;
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    if (route !== undefined && OPEN_ROUTES.has(`${request.method} ${route}`)) return;
    if (await authorized(request, token, users)) return;
    return reply.code(401).header('www-authenticate', CHALLENGE).send({ error: 'unauthorized' });
  });
}

async function authorized(request: FastifyRequest, token: Buffer | undefined, users: PasswordCheck): Promise<boolean> {
  const header = request.headers.authorization ?? '';
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (space < 0 || value === '') return false;
  // Compared as digests: timingSafeEqual needs equal lengths, and the token's length is no secret to keep.
  if (scheme === 'bearer') return token !== undefined && timingSafeEqual(digest(value), token);
  if (scheme !== 'basic' || users.empty) return false;
  const pair = Buffer.from(value, 'base64').toString('utf8');
  const colon = pair.indexOf(':');
  return colon > 0 && users.verify(pair.slice(0, colon), pair.slice(colon + 1));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
