/** Listening sockets with the real components' error wording when a port cannot be bound. */
import type http from 'node:http';
import type https from 'node:https';
import { configError } from './errors.js';

/** `[host]:port` for messages and Go-style listen addresses. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Splits `host:port` (as in `healthzBindAddress: 0.0.0.0:10256`); undefined when malformed. */
export function splitHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

export function listen(server: http.Server | https.Server, host: string, port: number): Promise<void> {
  const addr = joinHostPort(host === '' ? '0.0.0.0' : host, port);
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'bind: address already in use'
          : err.code === 'EADDRNOTAVAIL'
            ? 'bind: cannot assign requested address'
            : err.code === 'EACCES'
              ? 'bind: permission denied'
              : err.message;
      reject(configError(`failed to listen on ${addr}: listen tcp ${addr}: ${why}`));
    };
    server.once('error', onError);
    server.listen(port, host === '' ? '0.0.0.0' : host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export function closeServer(server: http.Server | https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
