/**
 * Object storage in etcd with the apiserver's semantics: resourceVersion is the etcd mod revision,
 * updates that carry a stale resourceVersion conflict (409), creates of an existing name fail,
 * status subresources keep the spec and the main resource keeps the status. Objects are stored as
 * JSON (as a v1.13 apiserver does with --storage-media-type=application/json).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sameJson } from '../common/json.js';
import { kubeTime } from '../common/objects.js';
import type { EtcdClient, KeyValue } from './etcd.js';
import { apiPrefix, groupVersion, type ResourceDef } from './resources.js';

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

  setStrategy(def: ResourceDef, strategy: Strategy): void {
    this.strategies.set(def.name, strategy);
  }

  constructor(
    private readonly etcd: EtcdClient,
    private readonly prefix: string,
  ) {}

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
  async update(def: ResourceDef, namespace: string | undefined, name: string, input: Obj, subresource?: string): Promise<Obj> {
    const meta = input.metadata ?? {};
    if (meta.name !== undefined && meta.name !== name) {
      throw new StatusError(400, 'BadRequest', `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    }
    const key = this.key(def, namespace, name);
    const { kv } = await this.etcd.get(key);
    if (!kv) {
      // Endpoints may be created by an update (AllowCreateOnUpdate), as leader election relies on.
      if (def.name === 'endpoints' && subresource === undefined) return this.create(def, namespace, { ...input, metadata: { ...meta, name } });
      throw notFound(def, name);
    }
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
    let revision: number | undefined;
    try {
      revision = await this.etcd.putIf(key, this.encode(def, next), kv.modRevision);
    } catch (err) {
      await strategy?.updateFailed?.(next, current);
      throw err;
    }
    if (revision === undefined) {
      await strategy?.updateFailed?.(next, current);
      throw conflict(def, name);
    }
    const updated = this.decode(def, { key, value: this.encode(def, next), createRevision: kv.createRevision, modRevision: revision });
    await strategy?.written?.(current, updated);
    return updated;
  }

  /** Read-modify-write with a bounded number of retries on concurrent changes. */
  async patch(def: ResourceDef, namespace: string | undefined, name: string, apply: (current: Obj) => Obj, subresource?: string): Promise<Obj> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.get(def, namespace, name);
      const patched = apply(current);
      const meta = { ...(patched.metadata ?? {}), resourceVersion: current.metadata?.resourceVersion };
      try {
        return await this.update(def, namespace, name, { ...patched, metadata: meta }, subresource);
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
    for (let attempt = 0; attempt < 5; attempt++) {
      const { kv } = await this.etcd.get(key);
      if (!kv) throw notFound(def, name);
      const next = change(this.decode(def, kv));
      const value = this.encode(def, next);
      const revision = await this.etcd.putIf(key, value, kv.modRevision);
      if (revision !== undefined) return this.decode(def, { key, value, createRevision: kv.createRevision, modRevision: revision });
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
