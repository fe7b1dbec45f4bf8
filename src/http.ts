// The gateway's HTTP server: operations endpoints here; the gantry adapter adds its upload route.
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';

export interface HttpOptions {
  bodyLimitBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  cert: string;
  key: string;
  metrics: Metrics;
  /** What /readyz reports; 200 only when every part is true. */
  readiness: () => Record<string, boolean>;
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
  const app: FastifyInstance =
    options.cert && options.key
      ? (Fastify({ ...base, https: { cert: readFileSync(options.cert), key: readFileSync(options.key), ...timeouts } }) as unknown as FastifyInstance)
      : Fastify({ ...base, http: timeouts });
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
  return app;
}
