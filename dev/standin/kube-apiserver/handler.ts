/**
 * The HTTP handler: authenticate, work out the request's verb/resource/namespace/name as the
 * apiserver's RequestInfoFactory does, authorize, admit, then serve discovery, health, stored
 * resources and componentstatuses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeletClientOptions } from './options.js';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/klog.js';
import { INSECURE_USER, authenticate, type AuthnConfig, type UserInfo } from './authn.js';
import { admit } from './admission.js';
import { authorize, type RequestAttributes } from './authz.js';
import { getComponentStatus, listComponentStatuses } from './componentstatus.js';
import type { EtcdClient } from './etcd.js';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { Registry, StatusError, selfLink, type Obj } from './registry.js';
import { findGroupResource, groupVersion, type ResourceDef } from './resources.js';
import { readBody, readOptionalBody, send, sendStatus } from './http.js';
import { servePodLog } from './pod-logs.js';
import { bindPod, deleteOptionsFrom, deletePod, evictPod } from './pod-operations.js';
import { preparePodForCreate } from './pods.js';
import { admitServiceAccount } from './serviceaccount-admission.js';
import { replicasFromScale, scaleOf } from './workloads.js';
import { serveWatch, watchRequest } from './watch.js';
import { deleteOrphaning, wantsOrphan } from './orphan-deletion.js';
import { impersonate } from './impersonation.js';
import { selfSubjectAccessReview } from './access-review.js';
import { serveNonResource } from './nonresource.js';
import { fieldMatcher, labelMatcher } from './selectors.js';
import { negotiate, toTable } from './tables.js';

export interface ApiContext {
  registry: Registry;
  etcd: EtcdClient;
  authn: AuthnConfig;
  authorizationModes: readonly string[];
  admission: ReadonlySet<string>;
  advertiseAddress: string;
  securePort: number;
  kubeletClient: KubeletClientOptions;
  log: Logger;
}


interface ResourceRequest {
  def: ResourceDef;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  verb: string;
}

/** Splits /api/v1/... into resource request parts (k8s.io/apiserver RequestInfoFactory rules). */
function parseResourcePath(method: string, group: string, version: string, parts: string[], query: URLSearchParams): ResourceRequest | StatusError {
  let namespace: string | undefined;
  let rest = parts;
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1];
    if (rest.length > 2 && rest[2] !== 'status' && rest[2] !== 'finalize') rest = rest.slice(2);
  }
  const def = findGroupResource(group, version, rest[0] ?? '');
  if (!def) return new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  const name = rest[1];
  const subresource = rest[2];
  if (rest.length > 3 || (subresource !== undefined && !def.subresources.includes(subresource))) {
    return new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  }
  if (!def.namespaced) namespace = undefined;
  let verb: string;
  switch (method) {
    case 'GET':
    case 'HEAD':
      verb = name === undefined ? (query.get('watch') === 'true' || query.get('watch') === '1' ? 'watch' : 'list') : 'get';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name === undefined ? 'deletecollection' : 'delete';
      break;
    default:
      return new StatusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
  }
  return { def, namespace: def.namespaced ? namespace : undefined, name, subresource, verb };
}


/** The patch function of a PATCH's content type: JSON patch, merge patch or strategic merge patch. */
function patcherFor(contentType: string | undefined): (current: unknown, patch: unknown) => Obj {
  const type = (contentType ?? '').split(';')[0]!.trim();
  const patchers: Record<string, (current: unknown, patch: unknown) => unknown> = {
    'application/json-patch+json': jsonPatch,
    'application/merge-patch+json': mergePatch,
    'application/strategic-merge-patch+json': strategicMergePatch,
  };
  const patcher = patchers[type];
  if (!patcher) throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${Object.keys(patchers).join(', ')}`);
  return (current, patch) => {
    try {
      return patcher(current, patch) as Obj;
    } catch (err) {
      if (err instanceof StatusError) throw err;
      throw new StatusError(422, 'Invalid', `the server rejected our request due to an error in our request: ${messageOf(err)}`);
    }
  };
}

export function createHandler(ctx: ApiContext, opts: { insecure: boolean }) {
  /** deployments/scale, replicasets/scale: the autoscaling/v1 Scale view of spec.replicas. */
  const serveScale = async (req: IncomingMessage, res: ServerResponse, user: UserInfo, r: ResourceRequest): Promise<void> => {
    const { def, namespace } = r;
    const name = r.name!;
    if (r.verb === 'get') return send(res, 200, scaleOf(def, await ctx.registry.get(def, namespace, name)));
    if (r.verb !== 'update' && r.verb !== 'patch') throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    await admit(ctx.registry, ctx.admission, user, r, name, undefined);
    const apply = r.verb === 'patch' ? patcherFor(req.headers['content-type']) : undefined;
    const body = await readBody(req);
    const updated = await ctx.registry.patch(def, namespace, name, (current) => {
      const scale = apply ? (apply(scaleOf(def, current), body) as Obj) : (body as Obj);
      const asked = scale.metadata?.resourceVersion;
      if (!apply && typeof asked === 'string' && asked !== '' && asked !== current.metadata?.resourceVersion) {
        throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${def.name}.${def.group} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: def.group, kind: def.name });
      }
      return { ...current, spec: { ...(current.spec as Record<string, unknown>), replicas: replicasFromScale(name, scale) } };
    });
    return send(res, 200, scaleOf(def, updated));
  };

  const serveResource = async (req: IncomingMessage, res: ServerResponse, user: UserInfo, r: ResourceRequest, query: URLSearchParams): Promise<void> => {
    const format = negotiate(req.headers.accept);
    if (format === 'unacceptable' && (r.verb === 'get' || r.verb === 'list')) {
      throw new StatusError(406, 'NotAcceptable', `only the following media types are accepted: application/json, application/json;as=Table;v=v1beta1;g=meta.k8s.io`);
    }
    const include = (query.get('includeObject') ?? 'Metadata') as 'None' | 'Metadata' | 'Object';
    const { def, namespace, name } = r;
    // A verb the resource does not have (list of selfsubjectaccessreviews, create of componentstatuses).
    if (r.subresource === undefined && !def.verbs.includes(r.verb)) throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

    if (r.verb === 'watch') {
      if (def.virtual) throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      const byLabel = labelMatcher(query.get('labelSelector'));
      const byField = fieldMatcher(query.get('fieldSelector'));
      return serveWatch(ctx, req, res, watchRequest(def, namespace, query, (o) => byLabel(o) && byField(o)));
    }
    if (r.verb === 'list') {
      let items: Obj[];
      let resourceVersion = '';
      if (def.virtual) items = await listComponentStatuses(ctx.etcd);
      // resourceVersion=0 (what informers list with) is served by the watch cache, as in v1.13.
      else ({ items, resourceVersion } = (query.get('resourceVersion') === '0' ? ctx.registry.listCached(def, namespace) : undefined) ?? (await ctx.registry.list(def, namespace)));
      const byLabel = labelMatcher(query.get('labelSelector'));
      const byField = fieldMatcher(query.get('fieldSelector'));
      items = items.filter((o) => byLabel(o) && byField(o));
      const listMeta = { selfLink: selfLink(def, namespace), resourceVersion };
      if (format === 'table') return send(res, 200, toTable(def.kind, items, listMeta, include));
      return send(res, 200, { kind: `${def.kind}List`, apiVersion: groupVersion(def), metadata: listMeta, items });
    }
    if (r.subresource === 'scale') return serveScale(req, res, user, r);
    if (r.verb === 'get' && r.subresource === 'log') return servePodLog(ctx.registry, ctx.kubeletClient, namespace!, name!, query, res);
    if (r.verb === 'get') {
      let obj: Obj;
      if (def.virtual) {
        const found = await getComponentStatus(ctx.etcd, name!);
        if (!found) throw new StatusError(404, 'NotFound', `${def.name} "${name}" not found`, { name, kind: def.name });
        obj = found;
      } else obj = (query.get('resourceVersion') === '0' ? ctx.registry.getCached(def, namespace, name!) : undefined) ?? (await ctx.registry.get(def, namespace, name!));
      if (format === 'table') return send(res, 200, toTable(def.kind, [obj], { selfLink: selfLink(def, namespace, name), resourceVersion: obj.metadata?.resourceVersion ?? '' }, include));
      return send(res, 200, obj);
    }
    if (def.name === 'selfsubjectaccessreviews' && r.verb === 'create' && name === undefined) {
      return send(res, 201, await selfSubjectAccessReview((await readBody(req)) as Obj, user, ctx.authorizationModes, ctx.registry));
    }
    if (def.virtual) throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

    if (r.verb === 'create' && name !== undefined && (r.subresource === 'binding' || r.subresource === 'eviction')) {
      const body = await readBody(req);
      await admit(ctx.registry, ctx.admission, user, r, name, undefined);
      if (r.subresource === 'binding') await bindPod(ctx.registry, def, namespace, name, body);
      else await evictPod(ctx.registry, def, namespace, name, body);
      return send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
    }
    if (r.verb === 'create') {
      if (name !== undefined) throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      const body = (await readBody(req)) as Obj;
      const bodyName = typeof body.metadata?.name === 'string' ? body.metadata.name : '';
      await admit(ctx.registry, ctx.admission, user, r, bodyName, body);
      if (body.kind !== undefined && body.kind !== def.kind) throw new StatusError(400, 'BadRequest', `the kind of the object (${String(body.kind)}) does not match the resource (${def.kind})`);
      let prepared = def.name === 'pods' ? preparePodForCreate(body, bodyName) : body;
      if (def.name === 'pods' && ctx.admission.has('ServiceAccount')) prepared = await admitServiceAccount(ctx.registry, namespace!, prepared);
      return send(res, 201, await ctx.registry.create(def, namespace, prepared));
    }
    if (name === undefined) throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    await admit(ctx.registry, ctx.admission, user, r, name, undefined);
    if (r.verb === 'update') {
      const body = (await readBody(req)) as Obj;
      return send(res, 200, await ctx.registry.update(def, namespace, name, body, r.subresource));
    }
    if (r.verb === 'patch') {
      const apply = patcherFor(req.headers['content-type']);
      const patch = await readBody(req);
      return send(res, 200, await ctx.registry.patch(def, namespace, name, (current) => apply(current, patch) as Obj, r.subresource));
    }
    if (r.verb === 'delete' && def.name === 'pods') {
      const marked = await deletePod(ctx.registry, def, namespace, name, deleteOptionsFrom(await readOptionalBody(req), query));
      if (marked) return send(res, 200, marked);
      return send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: def.name } });
    }
    if (r.verb === 'delete') {
      if (wantsOrphan(await readOptionalBody(req), query)) await deleteOrphaning(ctx.registry, def, namespace, name);
      else await ctx.registry.delete(def, namespace, name);
      return send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: def.name } });
    }
    throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  };

  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'https://apiserver');
    const path = url.pathname;
    const run = async () => {
      const authenticated = opts.insecure ? INSECURE_USER : await authenticate(ctx.authn, req, ctx.registry);
      if ('unauthorized' in authenticated) {
        return sendStatus(res, new StatusError(401, 'Unauthorized', 'Unauthorized'));
      }
      const who = await impersonate(req, authenticated, ctx.authorizationModes, ctx.registry, path);
      const parts = path.split('/').filter((p) => p !== '');
      // /api/v1/<resource…> or /apis/<group>/<version>/<resource…>
      const core = parts[0] === 'api' && parts[1] === 'v1' && parts.length > 2;
      const named = parts[0] === 'apis' && parts.length > 3;
      let attrs: RequestAttributes;
      let r: ResourceRequest | undefined;
      if (core || named) {
        const parsed = core
          ? parseResourcePath(req.method ?? 'GET', '', 'v1', parts.slice(2), url.searchParams)
          : parseResourcePath(req.method ?? 'GET', parts[1]!, parts[2]!, parts.slice(3), url.searchParams);
        if (parsed instanceof StatusError) return sendStatus(res, parsed);
        r = parsed;
        attrs = { user: who, verb: r.verb, path, resourceRequest: true, apiGroup: r.def.group, resource: r.def.name, ...(r.subresource ? { subresource: r.subresource } : {}), ...(r.namespace ? { namespace: r.namespace } : {}), ...(r.name ? { name: r.name } : {}) };
      } else {
        attrs = { user: who, verb: (req.method ?? 'GET').toLowerCase() === 'head' ? 'get' : (req.method ?? 'GET').toLowerCase(), path, resourceRequest: false };
      }
      const decision = await authorize(ctx.authorizationModes, attrs, ctx.registry);
      if (!decision.allowed) {
        return sendStatus(res, new StatusError(403, 'Forbidden', decision.reason, r ? { ...(r.name ? { name: r.name } : {}), ...(r.def.group ? { group: r.def.group } : {}), kind: r.def.name } : undefined));
      }
      if (!r) return serveNonResource(ctx, res, path, url.searchParams);
      return serveResource(req, res, who, r, url.searchParams);
    };
    run().catch((err: unknown) => {
      if (err instanceof StatusError) return sendStatus(res, err);
      ctx.log.error(`${req.method} ${path}: ${messageOf(err)}`);
      sendStatus(res, new StatusError(500, 'InternalError', `Internal error occurred: ${messageOf(err)}`));
    });
  };
}
