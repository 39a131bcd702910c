/**
 * Object storage in etcd with the apiserver's semantics: resourceVersion is the etcd mod revision,
 * updates that carry a stale resourceVersion conflict (409), creates of an existing name fail,
 * status subresources keep the spec and the main resource keeps the status. Objects are stored as
 * JSON (as a v1.13 apiserver does with --storage-media-type=application/json).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sameJson } from '../common/json.js';
import { kubeTime } from '../common/objects.js';
import type { Logger } from '../common/klog.js';
import type { EtcdClient, KeyValue } from './etcd.js';
import { apiPrefix, groupVersion, resources, type ResourceDef } from './resources.js';
import { watchPrefix } from './etcd-watch.js';
import { WatchCache } from './watch-cache.js';

type WatchArgs = Parameters<typeof watchPrefix> extends [unknown, ...infer Rest] ? Rest : never;

export type Obj = Record<string, unknown> & { metadata?: Record<string, unknown> };

/** An API error rendered as a metav1.Status. */
export class StatusError extends Error {
  override readonly name = 'StatusError';
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

const notFound = (def: ResourceDef, name: string) =>
  new StatusError(404, 'NotFound', `${def.name} "${name}" not found`, { name, kind: def.name });
const conflict = (def: ResourceDef, name: string) =>
  new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${def.name} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: def.name });

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function invalidName(def: ResourceDef, name: string): StatusError | undefined {
  if (name === '') {
    return new StatusError(422, 'Invalid', `${def.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, { kind: def.kind });
  }
  if (def.group === 'rbac.authorization.k8s.io') {
    // RBAC names are path segments (ValidateRBACName): `system:coredns` is fine.
    const bad = name === '.' ? 'may not be \'.\'' : name === '..' ? 'may not be \'..\'' : name.includes('/') ? 'may not contain \'/\'' : name.includes('%') ? 'may not contain \'%\'' : undefined;
    return bad ? new StatusError(422, 'Invalid', `${def.kind}.rbac.authorization.k8s.io "${name}" is invalid: metadata.name: Invalid value: "${name}": ${bad}`, { name, group: def.group, kind: def.kind }) : undefined;
  }
  if (name.length > 253 || !dns1123Subdomain.test(name)) {
    return new StatusError(
      422,
      'Invalid',
      `${def.kind} "${name}" is invalid: metadata.name: Invalid value: "${name}": a DNS-1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      { name, kind: def.kind },
    );
  }
  return undefined;
}

export function selfLink(def: ResourceDef, namespace: string | undefined, name?: string): string {
  const base = def.namespaced && namespace ? `${apiPrefix(def)}/namespaces/${namespace}/${def.name}` : `${apiPrefix(def)}/${def.name}`;
  return name === undefined ? base : `${base}/${name}`;
}

/**
 * What a kind does beyond storage (v1.13's REST strategies): defaulting and validation, and
 * allocations (service IPs and node ports) taken before a write and given back after.
 */
export interface Strategy {
  /** The object about to be created, name and namespace set; may throw a StatusError. */
  prepareForCreate?(obj: Obj): Promise<Obj> | Obj;
  /** The create did not happen (name taken): give back what prepareForCreate took. */
  createFailed?(obj: Obj): Promise<void>;
  /** The object about to replace `current` (main resource, not status). */
  prepareForUpdate?(next: Obj, current: Obj): Promise<Obj> | Obj;
  /** The update did not happen (a concurrent change): give back what prepareForUpdate took. */
  updateFailed?(next: Obj, current: Obj): Promise<void>;
  /** After a write: `before` is undefined for a create, `after` for a delete. */
  written?(before: Obj | undefined, after: Obj | undefined): Promise<void>;
}

/** Random name suffixes as v1.13's generateName and pod names use them (no vowels, no 0/1/3). */
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
export function randomSuffix(n = 5): string {
  const bytes = randomBytes(n);
  return [...bytes].map((b) => SAFE_ALPHABET[b % SAFE_ALPHABET.length]).join('');
}

export class Registry {
  private readonly strategies = new Map<string, Strategy>();
  private readonly caches = new Map<string, WatchCache>();

  setStrategy(def: ResourceDef, strategy: Strategy): void {
    this.strategies.set(def.name, strategy);
  }

  constructor(
    private readonly etcd: EtcdClient,
    private readonly prefix: string,
  ) {}

  /** One watch cache per stored resource, as v1.13 starts them (--watch-cache, on by default). */
  startWatchCaches(log: Logger): void {
    for (const def of resources) {
      if (def.virtual || def.storagePath === '' || this.caches.has(def.name)) continue;
      const { prefix, owns } = this.scope(def, undefined);
      const source = { list: (p: string) => this.etcd.list(p), watch: (...args: WatchArgs) => watchPrefix(this.etcd, ...args) };
      const cache = new WatchCache(source, prefix, owns, log, def.name);
      this.caches.set(def.name, cache);
      cache.start();
    }
  }

  stopWatchCaches(): void {
    for (const cache of this.caches.values()) cache.stop();
    this.caches.clear();
  }

  /** The resource's watch cache, if it has one (serveWatch uses it). */
  watchCache(def: ResourceDef): WatchCache | undefined {
    return this.caches.get(def.name);
  }

  /** The stored object as the watch cache has it (v1.13: GET with resourceVersion=0); undefined while the cache is not current. */
  getCached(def: ResourceDef, namespace: string | undefined, name: string): Obj | undefined {
    const found = this.caches.get(def.name)?.get(this.key(def, namespace, name));
    if (!found) return undefined;
    if (!found.kv) throw notFound(def, name);
    return this.decode(def, found.kv);
  }

  /** LIST from the watch cache (v1.13: resourceVersion=0); undefined while the cache is not current. */
  listCached(def: ResourceDef, namespace: string | undefined): { items: Obj[]; resourceVersion: string } | undefined {
    const { prefix, owns } = this.scope(def, namespace);
    const found = this.caches.get(def.name)?.list(prefix);
    if (!found) return undefined;
    return { items: found.kvs.filter((kv) => owns(kv.key)).map((kv) => this.decode(def, kv)), resourceVersion: String(found.revision) };
  }

  /**
   * What v1.13 reads through its informers' listers (RBAC roles and bindings, service accounts and
   * their token secrets, namespaces, the Node authorizer's pods): the watch cache's object; one it
   * does not have (yet) is looked up in etcd.
   */
  async lookup(def: ResourceDef, namespace: string | undefined, name: string): Promise<Obj> {
    const kv = this.caches.get(def.name)?.get(this.key(def, namespace, name))?.kv;
    return kv ? this.decode(def, kv) : this.get(def, namespace, name);
  }

  /** A lister's LIST: the watch cache's objects, etcd's while it is not current. */
  async listLister(def: ResourceDef, namespace: string | undefined): Promise<{ items: Obj[]; resourceVersion: string }> {
    return this.listCached(def, namespace) ?? this.list(def, namespace);
  }

  /** The object an update starts from: the watch cache's (GuaranteedUpdate's suggestion), else etcd's. */
  private async startingPoint(def: ResourceDef, key: string): Promise<{ kv: KeyValue | undefined; fresh: boolean }> {
    const cached = this.caches.get(def.name)?.get(key);
    // An object the cache does not have (yet) is looked up in etcd: it may have just been created.
    if (cached?.kv) return { kv: cached.kv, fresh: false };
    return { kv: (await this.etcd.get(key)).kv, fresh: true };
  }

  private key(def: ResourceDef, namespace: string | undefined, name: string): string {
    return def.namespaced ? `${this.prefix}/${def.storagePath}/${namespace}/${name}` : `${this.prefix}/${def.storagePath}/${name}`;
  }

  /** The etcd prefix of a list or watch, and whether a key below it is one of its objects. */
  scope(def: ResourceDef, namespace: string | undefined): { prefix: string; owns: (key: string) => boolean } {
    const base = `${this.prefix}/${def.storagePath}/`;
    const prefix = def.namespaced && namespace ? `${base}${namespace}/` : base;
    // A namespaced prefix like services/ must not pick up services/endpoints/...: depth must match.
    const depth = def.namespaced ? 2 : 1;
    return { prefix, owns: (key) => key.startsWith(prefix) && key.slice(base.length).split('/').length === depth };
  }

  decode(def: ResourceDef, kv: KeyValue): Obj {
    const obj = JSON.parse(kv.value) as Obj;
    const meta = (obj.metadata ??= {});
    meta.resourceVersion = String(kv.modRevision);
    meta.selfLink = selfLink(def, meta.namespace as string | undefined, meta.name as string);
    return { kind: def.kind, apiVersion: groupVersion(def), ...obj };
  }

  private encode(def: ResourceDef, obj: Obj): string {
    const { metadata, ...rest } = obj;
    const meta = { ...(metadata ?? {}) };
    delete meta.resourceVersion;
    delete meta.selfLink;
    return JSON.stringify({ ...rest, kind: def.kind, apiVersion: groupVersion(def), metadata: meta });
  }

  async get(def: ResourceDef, namespace: string | undefined, name: string): Promise<Obj> {
    const { kv } = await this.etcd.get(this.key(def, namespace, name));
    if (!kv) throw notFound(def, name);
    return this.decode(def, kv);
  }

  async exists(def: ResourceDef, namespace: string | undefined, name: string): Promise<boolean> {
    return (await this.etcd.get(this.key(def, namespace, name))).kv !== undefined;
  }

  async list(def: ResourceDef, namespace: string | undefined): Promise<{ items: Obj[]; resourceVersion: string }> {
    const { prefix, owns } = this.scope(def, namespace);
    const { kvs, revision } = await this.etcd.list(prefix);
    const items = kvs.filter((kv) => owns(kv.key)).map((kv) => this.decode(def, kv));
    return { items, resourceVersion: String(revision) };
  }

  async create(def: ResourceDef, namespace: string | undefined, input: Obj): Promise<Obj> {
    const meta = { ...(input.metadata ?? {}) };
    let name = typeof meta.name === 'string' ? meta.name : '';
    if (name === '' && typeof meta.generateName === 'string' && meta.generateName !== '') {
      name = `${meta.generateName}${randomSuffix()}`;
    }
    const bad = invalidName(def, name);
    if (bad) throw bad;
    if (def.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== namespace) {
        throw new StatusError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace;
    } else {
      delete meta.namespace;
    }
    meta.name = name;
    meta.uid = randomUUID();
    meta.creationTimestamp = kubeTime();
    if (def.generation) meta.generation = 1;
    let obj: Obj = { ...input, metadata: meta };
    if (def.name === 'namespaces') {
      obj.spec = { finalizers: ['kubernetes'] };
      obj.status = { phase: 'Active' };
    }
    const strategy = this.strategies.get(def.name);
    if (strategy?.prepareForCreate) obj = await strategy.prepareForCreate(obj);
    const key = this.key(def, namespace, name);
    let revision: number | undefined;
    try {
      revision = await this.etcd.putIf(key, this.encode(def, obj), 0);
    } catch (err) {
      await strategy?.createFailed?.(obj);
      throw err;
    }
    if (revision === undefined) {
      await strategy?.createFailed?.(obj);
      throw new StatusError(409, 'AlreadyExists', `${def.name} "${name}" already exists`, { name, kind: def.name });
    }
    const created = this.decode(def, { key, value: this.encode(def, obj), createRevision: revision, modRevision: revision });
    await strategy?.written?.(undefined, created);
    return created;
  }

  /**
   * Replaces the object. `subresource` 'status' keeps the stored spec and metadata; the main
   * resource keeps the stored status. A resourceVersion in the body must match the stored one.
   */
  async update(def: ResourceDef, namespace: string | undefined, name: string, input: Obj, subresource?: string, startFrom?: { kv: KeyValue; fresh: boolean }): Promise<Obj> {
    const meta = input.metadata ?? {};
    if (meta.name !== undefined && meta.name !== name) {
      throw new StatusError(400, 'BadRequest', `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    }
    const key = this.key(def, namespace, name);
    // GuaranteedUpdate: start from the cached object; a stale one is found out by the
    // compare-and-swap (or the precondition) and replaced by etcd's, once.
    let { kv, fresh } = startFrom ?? (await this.startingPoint(def, key));
    for (;;) {
      if (!kv) {
        // Endpoints may be created by an update (AllowCreateOnUpdate), as leader election relies on.
        if (def.name === 'endpoints' && subresource === undefined) return this.create(def, namespace, { ...input, metadata: { ...meta, name } });
        throw notFound(def, name);
      }
      if (!fresh && typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '' && meta.resourceVersion !== String(kv.modRevision)) {
        ({ kv } = await this.etcd.get(key));
        fresh = true;
        continue;
      }
      let result: Awaited<ReturnType<Registry['updateFrom']>>;
      try {
        result = await this.updateFrom(def, namespace, name, input, subresource, key, kv);
      } catch (err) {
        // Refused on the cached object: it may be stale, so look again at etcd's (mustCheckData).
        if (fresh) throw err;
        ({ kv } = await this.etcd.get(key));
        fresh = true;
        continue;
      }
      if (result.updated) return result.updated;
      if (fresh) throw conflict(def, name);
      kv = result.current;
      fresh = true;
    }
  }

  /** One compare-and-swap of an update on `kv`; etcd's current object when it lost. */
  private async updateFrom(
    def: ResourceDef,
    namespace: string | undefined,
    name: string,
    input: Obj,
    subresource: string | undefined,
    key: string,
    kv: KeyValue,
  ): Promise<{ updated: Obj; current?: undefined } | { updated?: undefined; current: KeyValue | undefined }> {
    const meta = input.metadata ?? {};
    const current = this.decode(def, kv);
    const currentMeta = current.metadata ?? {};
    if (typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '' && meta.resourceVersion !== currentMeta.resourceVersion) {
      throw conflict(def, name);
    }
    let next: Obj;
    if (subresource === 'status') {
      next = { ...current, status: input.status };
    } else {
      // Identity and a pending graceful deletion are not the client's to change.
      const kept = Object.fromEntries(['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds'].filter((k) => currentMeta[k] !== undefined).map((k) => [k, currentMeta[k]]));
      next = { ...input, metadata: { ...meta, name, ...kept } };
      if (def.namespaced) next.metadata!.namespace = namespace;
      if (def.subresources.includes('status')) next.status = current.status;
      const strategy = this.strategies.get(def.name);
      if (strategy?.prepareForUpdate) next = await strategy.prepareForUpdate(next, current);
      if (def.generation) {
        const was = typeof currentMeta.generation === 'number' ? currentMeta.generation : 1;
        next.metadata = { ...next.metadata, generation: sameJson(next.spec, current.spec) ? was : was + 1 };
      }
    }
    const strategy = subresource === undefined ? this.strategies.get(def.name) : undefined;
    let swapped: { revision: number } | { current: KeyValue | undefined };
    try {
      swapped = await this.etcd.putIfElseGet(key, this.encode(def, next), kv.modRevision);
    } catch (err) {
      await strategy?.updateFailed?.(next, current);
      throw err;
    }
    if (!('revision' in swapped)) {
      await strategy?.updateFailed?.(next, current);
      return { current: swapped.current };
    }
    const updated = this.decode(def, { key, value: this.encode(def, next), createRevision: kv.createRevision, modRevision: swapped.revision });
    await strategy?.written?.(current, updated);
    return { updated };
  }

  /** Read-modify-write with a bounded number of retries on concurrent changes. */
  async patch(def: ResourceDef, namespace: string | undefined, name: string, apply: (current: Obj) => Obj, subresource?: string): Promise<Obj> {
    const key = this.key(def, namespace, name);
    for (let attempt = 0; attempt < 5; attempt++) {
      // The first attempt starts from the cached object (GuaranteedUpdate's suggestion), a retry from etcd's.
      const start = attempt === 0 ? await this.startingPoint(def, key) : { kv: (await this.etcd.get(key)).kv, fresh: true };
      if (!start.kv) throw notFound(def, name);
      const current = this.decode(def, start.kv);
      const patched = apply(current);
      const meta = { ...(patched.metadata ?? {}), resourceVersion: current.metadata?.resourceVersion };
      try {
        return await this.update(def, namespace, name, { ...patched, metadata: meta }, subresource, { kv: start.kv, fresh: start.fresh });
      } catch (err) {
        if (!(err instanceof StatusError && err.reason === 'Conflict')) throw err;
      }
    }
    throw conflict(def, name);
  }

  /**
   * Server-side read-modify-write with none of a client update's rules (binding, graceful
   * deletion); `change` may throw to refuse. Retries a bounded number of times on races.
   */
  async mutate(def: ResourceDef, namespace: string | undefined, name: string, change: (current: Obj) => Obj): Promise<Obj> {
    const key = this.key(def, namespace, name);
    let { kv, fresh } = await this.startingPoint(def, key);
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!kv) throw notFound(def, name);
      let next: Obj;
      try {
        next = change(this.decode(def, kv));
      } catch (err) {
        // Refused on the cached object: it may be stale, so look again at etcd's.
        if (fresh) throw err;
        ({ kv } = await this.etcd.get(key));
        fresh = true;
        continue;
      }
      const value = this.encode(def, next);
      const swapped = await this.etcd.putIfElseGet(key, value, kv.modRevision);
      if ('revision' in swapped) return this.decode(def, { key, value, createRevision: kv.createRevision, modRevision: swapped.revision });
      kv = swapped.current;
      fresh = true;
    }
    throw conflict(def, name);
  }

  async delete(def: ResourceDef, namespace: string | undefined, name: string): Promise<Obj> {
    const key = this.key(def, namespace, name);
    const { kv } = await this.etcd.get(key);
    if (!kv) throw notFound(def, name);
    if (!(await this.etcd.deleteIf(key, kv.modRevision))) throw conflict(def, name);
    const deleted = this.decode(def, kv);
    await this.strategies.get(def.name)?.written?.(deleted, undefined);
    return deleted;
  }
}
