/** /healthz (ok only while etcd answers, in the apiserver's verbose format), /version, and discovery: /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>. */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../common/klog.js';
import { versionInfo } from '../common/version.js';
import type { EtcdClient } from './etcd.js';
import { send, sendStatus } from './http.js';
import { StatusError } from './registry.js';
import { apiGroups, apiResourceList, apiV1ResourceList } from './resources.js';

export interface NonResourceContext {
  etcd: EtcdClient;
  advertiseAddress: string;
  securePort: number;
  log: Logger;
}

async function healthz(ctx: NonResourceContext, res: ServerResponse, path: string, verbose: boolean): Promise<void> {
  const etcdProblem = await ctx.etcd.ping();
  const checks: Array<[string, string | undefined]> = [
    ['ping', undefined],
    ['log', undefined],
    ['etcd', etcdProblem],
  ];
  const only = path.slice('/healthz/'.length);
  if (only !== '' && path !== '/healthz') {
    const check = checks.find(([n]) => n === only);
    if (!check) return send(res, 404, '404 page not found\n');
    return check[1] === undefined ? send(res, 200, 'ok') : send(res, 500, `internal server error: ${check[1]}\n`);
  }
  const failed = checks.some(([, p]) => p !== undefined);
  if (!failed && !verbose) return send(res, 200, 'ok');
  const lines = checks.map(([n, p]) => (p === undefined ? `[+]${n} ok` : `[-]${n} failed: reason withheld`));
  if (failed) {
    ctx.log.error(`healthz check failed: etcd: ${etcdProblem ?? ''}`);
    return send(res, 500, `${lines.join('\n')}\nhealthz check failed\n`);
  }
  return send(res, 200, `${lines.join('\n')}\nhealthz check passed\n`);
}

/** Health, version and discovery: the paths every user, even anonymous, may read. */
export async function serveNonResource(ctx: NonResourceContext, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
  if (path === '/healthz' || path.startsWith('/healthz/')) return healthz(ctx, res, path, query.has('verbose'));
  if (path === '/version' || path === '/version/') return send(res, 200, versionInfo());
  if (path === '/api' || path === '/api/') {
    return send(res, 200, {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${ctx.advertiseAddress}:${ctx.securePort}` }],
    });
  }
  if (path === '/api/v1' || path === '/api/v1/') return send(res, 200, apiV1ResourceList());
  if (path === '/apis' || path === '/apis/') return send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: apiGroups() });
  const [, apis, groupName, version, ...rest] = path.split('/');
  const group = apis === 'apis' && rest.every((p) => p === '') ? apiGroups().find((g) => g.name === groupName) : undefined;
  if (group && (version === undefined || version === '')) return send(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...group });
  if (group && group.versions.some((v) => v.version === version)) return send(res, 200, apiResourceList(group.name, version!));
  return sendStatus(res, new StatusError(404, 'NotFound', 'the server could not find the requested resource'));
}
