// The gateway's HTTP server: operations endpoints here; the gantry adapter adds its upload route.
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';

export interface HttpOptions {
  bodyLimitBytes: number;
  cert: string;
  key: string;
  metrics: Metrics;
  /** What /readyz reports; 200 only when every part is true. */
  readiness: () => Record<string, boolean>;
}

export function createHttpServer(options: HttpOptions): FastifyInstance {
  // forceCloseConnections: a device's idle keep-alive connection must not hold up the 5 s shutdown.
  const base = { bodyLimit: options.bodyLimitBytes, logger: false, return503OnClosing: true, forceCloseConnections: true } as const;
  const app: FastifyInstance =
    options.cert && options.key
      ? (Fastify({ ...base, https: { cert: readFileSync(options.cert), key: readFileSync(options.key) } }) as unknown as FastifyInstance)
      : Fastify(base);
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
