/**
 * GET pods/{name}/log: the apiserver asks the pod's kubelet (port from the Node's
 * daemonEndpoints, address by --kubelet-preferred-address-types) for
 * /containerLogs/{namespace}/{pod}/{container} with its --kubelet-client-certificate, and streams
 * the answer back, as v1.13's LogREST does.
 */
import https from 'node:https';
import type { ServerResponse } from 'node:http';
import { messageOf } from '../common/errors.js';
import type { KubeletClientOptions } from './options.js';
import { StatusError, type Obj, type Registry } from './registry.js';
import { findResource } from './resources.js';
import { podSpecOf } from './pods.js';

const PASSED_ON = ['follow', 'previous', 'sinceSeconds', 'sinceTime', 'timestamps', 'tailLines', 'limitBytes'];
// Bounds a follow=true stream; kubectl reconnects if it wants more.
const MAX_STREAM_MS = 30 * 60_000;

const record = (v: unknown) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});

function containerName(pod: Obj, name: string, asked: string | null): string {
  const names = (podSpecOf(pod).containers ?? []).map((c) => c.name ?? '');
  if (asked) {
    if (!names.includes(asked)) throw new StatusError(400, 'BadRequest', `container ${asked} is not valid for pod ${name}`);
    return asked;
  }
  if (names.length === 1) return names[0]!;
  throw new StatusError(400, 'BadRequest', `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`);
}

function kubeletLocation(node: Obj, types: readonly string[]): { host: string; port: number } {
  const status = record(node.status);
  const addresses = (Array.isArray(status.addresses) ? status.addresses : []).map(record);
  const port = Number(record(record(record(status.daemonEndpoints).kubeletEndpoint)).Port ?? 10250) || 10250;
  for (const type of types) {
    const found = addresses.find((a) => a.type === type && typeof a.address === 'string' && a.address !== '');
    if (found) return { host: String(found.address), port };
  }
  throw new StatusError(500, 'InternalError', `no preferred addresses found; known addresses: ${JSON.stringify(addresses)}`);
}

export async function servePodLog(registry: Registry, kubelet: KubeletClientOptions, namespace: string, name: string, query: URLSearchParams, res: ServerResponse): Promise<void> {
  const pod = await registry.get(findResource('pods')!, namespace, name);
  const container = containerName(pod, name, query.get('container'));
  const nodeName = podSpecOf(pod).nodeName;
  if (!nodeName) throw new StatusError(400, 'BadRequest', `pod ${name} does not have a host assigned`);
  const node = await registry.get(findResource('nodes')!, undefined, nodeName);
  const { host, port } = kubeletLocation(node, kubelet.preferredAddressTypes);
  const params = new URLSearchParams();
  for (const p of PASSED_ON) {
    const v = query.get(p);
    if (v !== null && v !== '') params.set(p, v);
  }
  const path = `/containerLogs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}${params.size > 0 ? `?${params.toString()}` : ''}`;
  await new Promise<void>((resolve, reject) => {
    const req = https.request(
      {
        host,
        port,
        path,
        method: 'GET',
        ...(kubelet.cert ? { cert: kubelet.cert, key: kubelet.key } : {}),
        ...(kubelet.ca ? { ca: kubelet.ca } : { rejectUnauthorized: false }),
        timeout: 10_000,
      },
      (answer) => {
        if ((answer.statusCode ?? 500) >= 400) {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () => reject(new StatusError(answer.statusCode ?? 500, 'BadRequest', Buffer.concat(chunks).toString('utf8').trim() || `the kubelet answered ${answer.statusCode ?? 500}`)));
          return;
        }
        req.setTimeout(0);
        const limit = setTimeout(() => req.destroy(), MAX_STREAM_MS);
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
        answer.pipe(res);
        answer.on('end', () => {
          clearTimeout(limit);
          resolve();
        });
        answer.on('error', () => {
          clearTimeout(limit);
          res.end();
          resolve();
        });
        res.on('close', () => req.destroy());
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      if (res.headersSent) {
        res.end();
        resolve();
      } else reject(new StatusError(500, 'InternalError', `Get https://${host}:${port}${path}: ${messageOf(err)}`));
    });
    req.end();
  });
}
