// Listening on a port, with a taken port turned into the caller's clear error.
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';

/** Listens and resolves with the bound port; a taken port becomes the caller's PortInUseError. */
export function listen(
  server: Server | HttpServer,
  host: string,
  port: number,
  inUse: () => Error,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(err.code === 'EADDRINUSE' ? inUse() : err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

