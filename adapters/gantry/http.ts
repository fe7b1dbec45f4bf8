// The gantry's routes on the gateway's shared HTTP server: POST /monitor.do (and //monitor.do) in an
// encapsulated plugin that keeps the raw body for its MD5, every answer sent with its binfile-md5.
// What an upload is answered is uploads.ts's to say.
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdapterContext, JsonObject } from '../../src/adapter.js';
import { Code, HEADER_AUTH, HEADER_MD5, UPLOAD_PATH, UPLOAD_PATH_DOUBLE_SLASH, type BusinessCode } from './constants.js';
import { answerBody } from './encode.js';
import { md5Hex } from './sign.js';
import type { UploadAnswer, UploadRequest } from './uploads.js';

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** IPv4 clients of a dual-stack socket show up as ::ffff:a.b.c.d; the gantry's URL wants a.b.c.d. */
function plainIp(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function remoteOf(req: FastifyRequest): string {
  return `${plainIp(req.ip)}:${req.socket.remotePort ?? 0}`;
}

function send(reply: FastifyReply, code: BusinessCode, data?: JsonObject, status = 200): FastifyReply {
  const body = answerBody(code, data);
  return reply
    .code(status)
    .header('content-type', 'application/json;charset=UTF-8')
    .header(HEADER_MD5, md5Hex(body))
    .send(body);
}

/** The upload routes as a fastify plugin; `onUpload` decides each answer. */
export function uploadRoutes(
  context: Pick<AdapterContext, 'logger' | 'events'>,
  onUpload: (req: UploadRequest) => Promise<UploadAnswer>,
): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    // Bytes that are not HTTP, or a request not sent in time, never reach a route or the error
    // handler: fastify answers them 400 or 408 on its own. Counted here, as the gantry's listener.
    app.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!err.code?.startsWith('HPE_') && err.code !== 'ERR_HTTP_REQUEST_TIMEOUT') return;
      context.events.protocolError('bad_request', { remote: `${plainIp(socket.remoteAddress)}:${socket.remotePort ?? 0}` });
    });
    // Encapsulated: the core's routes keep their JSON parser; here MD5 needs the raw bytes.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.setErrorHandler((err: { code?: string; statusCode?: number; message: string }, req, reply) => {
      const remote = remoteOf(req);
      const status = err.statusCode ?? 500;
      if (status >= 500) {
        context.logger.error({ err, remote }, 'gantry upload failed');
        return send(reply, Code.SYSTEM_ERROR, undefined, 500);
      }
      context.events.protocolError(err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'oversize' : 'bad_request', { remote });
      return send(reply, Code.BAD_PARAMS, undefined, status);
    });
    const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const { code, data } = await onUpload({
        raw: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        md5: firstHeader(req.headers[HEADER_MD5]),
        auth: firstHeader(req.headers[HEADER_AUTH]),
        ip: plainIp(req.ip),
        remote: remoteOf(req),
      });
      return send(reply, code, data);
    };
    app.post(UPLOAD_PATH, handler);
    // With ignoreDuplicateSlashes the router already maps //monitor.do here; a second route would clash.
    if (!app.initialConfig.ignoreDuplicateSlashes) app.post(UPLOAD_PATH_DOUBLE_SLASH, handler);
  };
}
