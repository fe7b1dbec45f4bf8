// The web console's routes on the gateway's HTTP server. Server-rendered HTML and one small
// vanilla script (src/console/assets.ts): no framework and no build step, so `npm start` serves it
// as it is and the page works through the same http.auth guard as every other route.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { JsonObject } from '../adapter.js';
import type { Reply } from '../commands.js';
import type { DeviceActivity, DeviceSummary } from '../devices.js';
import { ConsoleRequestError } from '../errors.js';
import { isObject } from '../json.js';
import type { DescribedCommand } from '../mappings.js';
import { MAX_NAME_LENGTH, topicLevelProblem } from '../topics.js';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.js';
import { renderOverview, renderPage } from './page.js';

/** One adapter as the console sees it. */
export interface ConsoleAdapter {
  id: string;
  listen: string | null;
  failed: string | null;
  devices(): DeviceSummary[];
  commands(): readonly DescribedCommand[];
  observe(observer: (activity: DeviceActivity) => void): () => void;
}

/** What the gateway gives the console: read-only views and the core's command path. */
export interface ConsoleSource {
  /** `bridge/info`'s content, with the bridge state. */
  bridge(): JsonObject;
  adapters(): readonly ConsoleAdapter[];
  onBridgeEvent(listener: (event: JsonObject) => void): () => void;
  /** The router's command path (validation, timeout, metrics, the reply also on MQTT). */
  command(adapter: string, deviceId: string, name: string, body: JsonObject): Promise<Reply>;
}

/** Live feeds open at once; one more is refused (503) rather than let pages pile up. */
export const MAX_STREAMS = 16;
/** A feed whose socket has this much unsent drops events (and says how many) instead of queueing. */
const STREAM_BACKLOG_BYTES = 256 * 1024;
/** Longest string of an event shown in the feed: a base64 image is cut, not streamed whole. */
const FEED_STRING_CHARS = 200;
/** Bridge events a newly opened page starts with. */
const RECENT_BRIDGE_EVENTS = 50;
/** Keeps proxies from closing an idle feed. */
const KEEPALIVE_MS = 15_000;

// A page of this origin only: no inline script or style, nothing from elsewhere, not framed.
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export function registerConsole(app: FastifyInstance, source: ConsoleSource): void {
  const recent: JsonObject[] = [];
  source.onBridgeEvent((event) => {
    recent.push(event);
    if (recent.length > RECENT_BRIDGE_EVENTS) recent.shift();
  });
  let streams = 0;

  app.get('/', async (_request, reply) =>
    reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(renderPage(source.bridge(), summaries(source, {}), recent)),
  );
  app.get('/console/app.js', async (_request, reply) => reply.headers(PAGE_HEADERS).type('text/javascript; charset=utf-8').send(CONSOLE_JS));
  app.get('/console/app.css', async (_request, reply) => reply.headers(PAGE_HEADERS).type('text/css; charset=utf-8').send(CONSOLE_CSS));

  app.get<{ Querystring: Record<string, string | undefined> }>('/console/overview', async (request, reply) =>
    reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(renderOverview(source.bridge(), summaries(source, request.query))),
  );
  app.get<{ Querystring: Record<string, string | undefined> }>('/console/api/state', async (request, reply) =>
    reply.headers(PAGE_HEADERS).send({ bridge: source.bridge(), adapters: summaries(source, request.query), recent }),
  );

  app.get<{ Params: { adapter: string } }>('/console/api/commands/:adapter', async (request, reply) => {
    const adapter = find(source, request.params.adapter);
    if (!adapter) return refuse(reply, 404, new ConsoleRequestError(`no adapter ${request.params.adapter} runs here`));
    return reply.headers(PAGE_HEADERS).send({ adapter: adapter.id, commands: adapter.commands() });
  });

  // JSON only: a cross-site form cannot send application/json without a CORS preflight, which this
  // server never grants, so a browser holding basic-auth credentials cannot be made to command.
  app.post('/console/api/command', async (request, reply) => {
    if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
      return refuse(reply, 415, new ConsoleRequestError('send the command as application/json'));
    }
    const body = request.body;
    if (!isObject(body)) return refuse(reply, 400, new ConsoleRequestError('the body must be a JSON object {adapter, deviceId, name, data?, timeoutMs?}'));
    const { adapter, deviceId, name } = body;
    for (const [field, value, max] of [['adapter', adapter, MAX_NAME_LENGTH], ['deviceId', deviceId, undefined], ['name', name, MAX_NAME_LENGTH]] as const) {
      const problem = typeof value === 'string' ? topicLevelProblem(value, max) : 'must be a string';
      if (problem !== undefined) return refuse(reply, 400, new ConsoleRequestError(`${field} ${problem}`));
    }
    if (!find(source, adapter as string)) return refuse(reply, 404, new ConsoleRequestError(`no adapter ${String(adapter)} runs here`));
    const command: JsonObject = {};
    for (const key of ['id', 'timeoutMs', 'data'] as const) if (body[key] !== undefined) command[key] = body[key];
    const answer = await source.command(adapter as string, deviceId as string, name as string, command);
    return reply.headers(PAGE_HEADERS).send(answer);
  });

  app.get<{ Querystring: { adapter?: string; device?: string } }>('/console/events', async (request, reply) => {
    const { adapter: adapterId, device } = request.query;
    const adapter = adapterId === undefined ? undefined : find(source, adapterId);
    if (adapterId !== undefined && !adapter) return refuse(reply, 404, new ConsoleRequestError(`no adapter ${adapterId} runs here`));
    if (streams >= MAX_STREAMS) return refuse(reply, 503, new ConsoleRequestError(`${MAX_STREAMS} live feeds are open already; close one`));
    streams += 1;
    reply.hijack();
    const feed = new Feed(reply.raw);
    const stops = [source.onBridgeEvent((event) => feed.send('bridge', event))];
    if (adapter && device !== undefined) {
      stops.push(adapter.observe((activity) => activity.deviceId === device && feed.send('device', feedItem(adapter.id, activity))));
    }
    const keepalive = setInterval(() => feed.comment('keepalive'), KEEPALIVE_MS);
    // A reader gone mid-write is the 'close' below, not an error to throw.
    reply.raw.on('error', () => undefined);
    reply.raw.on('close', () => {
      streams -= 1;
      clearInterval(keepalive);
      for (const stop of stops) stop();
    });
    feed.open();
  });
}

/** One server-sent-events stream; never lets a slow reader grow the gateway's memory. */
class Feed {
  private dropped = 0;
  constructor(private readonly res: ServerResponse) {}

  open(): void {
    this.res.writeHead(200, { ...PAGE_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
    this.comment('open');
  }

  send(event: string, data: JsonObject): void {
    if (this.res.writableLength > STREAM_BACKLOG_BYTES) {
      this.dropped += 1;
      return;
    }
    if (this.dropped > 0) {
      this.res.write(`event: dropped\ndata: ${JSON.stringify({ dropped: this.dropped })}\n\n`);
      this.dropped = 0;
    }
    this.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    this.res.write(`: ${text}\n\n`);
  }
}

function feedItem(adapter: string, activity: DeviceActivity): JsonObject {
  return { adapter, deviceId: activity.deviceId, kind: activity.kind, name: activity.name, topic: activity.topic, envelope: shorten(activity.envelope) as JsonObject };
}

/** The envelope with every long string cut to FEED_STRING_CHARS, saying how long it was. */
function shorten(value: unknown): unknown {
  if (typeof value === 'string') return value.length > FEED_STRING_CHARS ? `${value.slice(0, FEED_STRING_CHARS)}… (${value.length} chars)` : value;
  if (Array.isArray(value)) return value.map(shorten);
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shorten(v)]));
  return value;
}

function find(source: ConsoleSource, id: string): ConsoleAdapter | undefined {
  return source.adapters().find((a) => a.id === id);
}

export interface AdapterView {
  id: string;
  listen: string | null;
  failed: string | null;
  online: number;
  devices: DeviceSummary[];
}

/** Every adapter with its devices, filtered by `adapter`, `q` (in the id or remote address) and
 *  `online` (`true`/`false`): the same filter as the page's own. */
export function summaries(source: ConsoleSource, query: Record<string, string | undefined>): AdapterView[] {
  const q = (query.q ?? '').trim().toLowerCase();
  const online = query.online === 'true' ? true : query.online === 'false' ? false : undefined;
  return source
    .adapters()
    .filter((a) => !query.adapter || a.id === query.adapter)
    .map((a) => {
      const all = a.devices();
      const devices = all.filter(
        (d) => (online === undefined || d.online === online) && (q === '' || d.deviceId.toLowerCase().includes(q) || d.remote.toLowerCase().includes(q)),
      );
      return { id: a.id, listen: a.listen, failed: a.failed, online: all.filter((d) => d.online).length, devices };
    });
}

function refuse(reply: FastifyReply, status: number, error: ConsoleRequestError): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).send({ error: { code: error.code, message: error.message } });
}
