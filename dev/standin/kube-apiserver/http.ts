/** Writing answers and reading bodies, with the apiserver's size limit and error Status. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { messageOf } from '../common/errors.js';
import { StatusError } from './registry.js';

const MAX_BODY = 3 * 1024 * 1024;

export function send(res: ServerResponse, code: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendStatus(res: ServerResponse, err: StatusError): void {
  send(res, err.code, err.toStatus());
}

/** A body that may be absent (DELETE's options): undefined when empty. */
export async function readOptionalBody(req: IncomingMessage): Promise<unknown> {
  return readBody(req, true);
}

export function readBody(req: IncomingMessage, optional = false): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new StatusError(413, 'RequestEntityTooLarge', 'the request body is too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (optional && size === 0) return resolve(undefined);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      } catch (err) {
        reject(new StatusError(400, 'BadRequest', `the body of the request was in an unknown format: ${messageOf(err)}`));
      }
    });
    req.on('error', reject);
  });
}
