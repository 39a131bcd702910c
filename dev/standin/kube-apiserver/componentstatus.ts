/**
 * componentstatuses as the v1.13 apiserver computes them on every read: the scheduler and the
 * controller-manager at their hard-coded insecure healthz addresses on 127.0.0.1, and each
 * --etcd-servers URL's /health with the etcd client TLS.
 */
import http from 'node:http';
import { messageOf } from '../common/errors.js';
import type { EtcdClient } from './etcd.js';
import type { Obj } from './registry.js';

const PROBE_TIMEOUT_MS = 20_000;

interface Probe {
  name: string;
  run(): Promise<{ healthy: boolean; message: string; error: string }>;
}

function httpHealthz(url: string): Promise<{ healthy: boolean; message: string; error: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: PROBE_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (res.statusCode === 200 && body.trim() === 'ok') resolve({ healthy: true, message: 'ok', error: '' });
        else resolve({ healthy: false, message: body.trim(), error: `HTTP probe failed with statuscode: ${res.statusCode ?? 0}` });
      });
    });
    req.on('timeout', () => req.destroy(new Error('net/http: request canceled (Client.Timeout exceeded while awaiting headers)')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const addr = new URL(url).host;
      const why = err.code === 'ECONNREFUSED' ? `dial tcp ${addr}: connect: connection refused` : messageOf(err);
      resolve({ healthy: false, message: '', error: `Get ${url}: ${why}` });
    });
  });
}

function probes(etcd: EtcdClient): Probe[] {
  return [
    { name: 'controller-manager', run: () => httpHealthz('http://127.0.0.1:10252/healthz') },
    { name: 'scheduler', run: () => httpHealthz('http://127.0.0.1:10251/healthz') },
    ...etcd.endpoints.map((ep, i) => ({ name: `etcd-${i}`, run: () => etcd.health(ep, PROBE_TIMEOUT_MS) })),
  ];
}

function toObject(name: string, r: { healthy: boolean; message: string; error: string }): Obj {
  const condition: Record<string, string> = { type: 'Healthy', status: r.healthy ? 'True' : 'False' };
  if (r.message) condition.message = r.message;
  if (r.error) condition.error = r.error;
  return {
    kind: 'ComponentStatus',
    apiVersion: 'v1',
    metadata: { name, selfLink: `/api/v1/componentstatuses/${name}`, creationTimestamp: null },
    conditions: [condition],
  };
}

export async function listComponentStatuses(etcd: EtcdClient): Promise<Obj[]> {
  const all = probes(etcd);
  const results = await Promise.all(all.map((p) => p.run()));
  return all.map((p, i) => toObject(p.name, results[i]!));
}

export async function getComponentStatus(etcd: EtcdClient, name: string): Promise<Obj | undefined> {
  const probe = probes(etcd).find((p) => p.name === name);
  return probe ? toObject(name, await probe.run()) : undefined;
}
