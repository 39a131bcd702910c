/**
 * Asks the container runtime whether it is there, over the same wire a v1.13 kubelet uses: gRPC
 * (HTTP/2 on the unix socket) calling runtime.v1alpha2.RuntimeService/Version, or for
 * --container-runtime=docker the Docker API's GET /version.
 *
 * The two protobuf messages involved hold only string fields, so they are encoded and decoded here
 * directly from the wire format rather than pulling a protobuf runtime into every stand-in.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { RuntimeEndpoint } from './settings.js';

export interface RuntimeVersion {
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

const grpcCodes = ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated'];

function encodeStringField(field: number, value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([Buffer.from([(field << 3) | 2, bytes.length]), bytes]);
}

function readVarint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  let pos = at;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) throw new Error('truncated varint');
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, pos];
    shift += 7;
  }
}

/** Length-delimited fields of a protobuf message by field number (later values win). */
export function decodeStringFields(buf: Buffer): Map<number, string> {
  const out = new Map<number, string>();
  let pos = 0;
  while (pos < buf.length) {
    const [key, next] = readVarint(buf, pos);
    pos = next;
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) pos = readVarint(buf, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, start] = readVarint(buf, pos);
      out.set(field, buf.subarray(start, start + len).toString('utf8'));
      pos = start + len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

function unavailable(socket: string, streamErr: NodeJS.ErrnoException): Error {
  // http2 wraps the socket's failure ("The pending stream has been canceled"); report the cause.
  const err = ((streamErr as { cause?: unknown }).cause as NodeJS.ErrnoException | undefined) ?? streamErr;
  const why = err.code === 'ENOENT' ? 'no such file or directory' : err.code === 'ECONNREFUSED' ? 'connect: connection refused' : err.message;
  return new Error(`rpc error: code = Unavailable desc = all SubConns are in TransientFailure, latest connection error: connection error: desc = "transport: Error while dialing dial unix ${socket}: ${why}"`);
}

function criVersion(socket: string, timeoutMs: number): Promise<RuntimeVersion> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
    const finish = (err: Error | undefined, value?: RuntimeVersion) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new Error('rpc error: code = DeadlineExceeded desc = context deadline exceeded')), timeoutMs);
    session.on('error', (err: NodeJS.ErrnoException) => finish(unavailable(socket, err)));
    const req = session.request({
      ':method': 'POST',
      ':path': '/runtime.v1alpha2.RuntimeService/Version',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let message = '';
    const takeStatus = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
    };
    req.on('response', takeStatus);
    req.on('trailers', takeStatus);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err: NodeJS.ErrnoException) => finish(unavailable(socket, err)));
    req.on('end', () => {
      if (status !== '0') {
        const code = grpcCodes[Number(status)] ?? `Code(${status ?? '?'})`;
        finish(new Error(`rpc error: code = ${code} desc = ${message}`));
        return;
      }
      const body = Buffer.concat(chunks);
      if (body.length < 5) {
        finish(new Error('rpc error: code = Internal desc = empty response'));
        return;
      }
      const fields = decodeStringFields(body.subarray(5, 5 + body.readUInt32BE(1)));
      finish(undefined, { runtimeName: fields.get(2) ?? '', runtimeVersion: fields.get(3) ?? '', runtimeApiVersion: fields.get(4) ?? '' });
    });
    // VersionRequest{version: "0.1.0"} in a gRPC frame: no compression, 4-byte big-endian length.
    const msg = encodeStringField(1, '0.1.0');
    const frame = Buffer.alloc(5 + msg.length);
    frame.writeUInt32BE(msg.length, 1);
    msg.copy(frame, 5);
    req.end(frame);
  });
}

function dockerVersion(socket: string, timeoutMs: number): Promise<RuntimeVersion> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: socket, path: '/version', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          const v = JSON.parse(body) as { Version?: unknown; ApiVersion?: unknown };
          resolve({ runtimeName: 'docker', runtimeVersion: String(v.Version ?? ''), runtimeApiVersion: String(v.ApiVersion ?? '') });
        } catch {
          reject(new Error(`failed to get docker version: unexpected answer from ${socket}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('context deadline exceeded')));
    req.on('error', () => reject(new Error(`failed to get docker version: Cannot connect to the Docker daemon at unix://${socket}. Is the docker daemon running?`)));
  });
}

export function runtimeVersion(endpoint: RuntimeEndpoint, timeoutMs: number): Promise<RuntimeVersion> {
  return endpoint.kind === 'remote' ? criVersion(endpoint.socket, timeoutMs) : dockerVersion(endpoint.socket, timeoutMs);
}
