/**
 * PATCH bodies: JSON merge patch (RFC 7386) and strategic merge patch (kubelets' node status,
 * `kubectl apply`), where lists with a merge key in the v1.13 types (conditions and addresses by
 * `type`, containers by `name`, container ports by `containerPort`, service ports by `port`, …)
 * merge item by item instead of being replaced. Directives: `$patch: replace|delete`, `$retainKeys`;
 * `$setElementOrder/…` and `$deleteFromPrimitiveList/…` are dropped (order is kept as stored).
 */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatch(target: unknown, patch: unknown): Json {
  if (!isObject(patch)) return patch as Json;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Merge keys (patchMergeKey) of the lists in the served kinds, by field name. */
const mergeKeys: Record<string, string> = {
  conditions: 'type',
  addresses: 'type',
  taints: 'key',
  ports: 'port',
  containers: 'name',
  initContainers: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  env: 'name',
  imagePullSecrets: 'name',
  secrets: 'name',
  ownerReferences: 'uid',
  hostAliases: 'ip',
};

/** Container ports merge by containerPort, service ports by port: the same field name. */
function mergeKeyFor(field: string, current: Json[], patch: Json[]): string | undefined {
  if (field === 'ports' && [...current, ...patch].some((i) => isObject(i) && 'containerPort' in i)) return 'containerPort';
  return mergeKeys[field];
}

export function strategicMergePatch(target: unknown, patch: unknown): Json {
  if (!isObject(patch)) return patch as Json;
  if (patch.$patch === 'replace') {
    const { $patch: _ignored, ...rest } = patch;
    return stripDirectives(rest);
  }
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) {
      delete out[k];
      continue;
    }
    const current = out[k];
    const key = Array.isArray(v) && Array.isArray(current) ? mergeKeyFor(k, current, v) : undefined;
    if (key && Array.isArray(v) && Array.isArray(current)) {
      out[k] = mergeList(current, v, key);
    } else if (Array.isArray(v)) {
      out[k] = stripDirectives(v);
    } else {
      out[k] = strategicMergePatch(current, v);
    }
  }
  // $retainKeys: the fields of this object that are not listed go (Deployment strategy, volumes).
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys.filter((x): x is string => typeof x === 'string'));
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  return out;
}

function mergeList(current: Json[], patch: Json[], key: string): Json[] {
  const result = [...current];
  for (const item of patch) {
    if (!isObject(item) || !(key in item)) {
      result.push(item);
      continue;
    }
    const at = result.findIndex((e) => isObject(e) && e[key] === item[key]);
    if (item.$patch === 'delete') {
      if (at >= 0) result.splice(at, 1);
    } else if (at >= 0) {
      result[at] = strategicMergePatch(result[at], item);
    } else {
      result.push(stripDirectives(item));
    }
  }
  return result;
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('$')).map(([k, x]) => [k, stripDirectives(x)]));
}

/** RFC 6902 JSON patch (`application/json-patch+json`, what `kubectl rollout undo` sends). */
export function jsonPatch(target: unknown, ops: unknown): Json {
  if (!Array.isArray(ops)) throw new Error('a JSON patch is a list of operations');
  let doc = structuredClone(target) as Json;
  const parse = (path: unknown): string[] => {
    if (typeof path !== 'string' || (path !== '' && !path.startsWith('/'))) throw new Error(`invalid JSON pointer ${JSON.stringify(path)}`);
    return path === '' ? [] : path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  };
  const parentOf = (parts: string[]): { parent: Json; key: string } => {
    let cur: Json = doc;
    for (const p of parts.slice(0, -1)) {
      const next: Json | undefined = Array.isArray(cur) ? cur[Number(p)] : isObject(cur) ? cur[p] : undefined;
      if (next === undefined) throw new Error(`path ${parts.join('/')} does not exist`);
      cur = next;
    }
    return { parent: cur, key: parts.at(-1)! };
  };
  const get = (parts: string[]): Json => {
    if (parts.length === 0) return doc;
    const { parent, key } = parentOf(parts);
    const v = Array.isArray(parent) ? parent[Number(key)] : isObject(parent) ? parent[key] : undefined;
    if (v === undefined) throw new Error(`path /${parts.join('/')} does not exist`);
    return v;
  };
  const put = (parts: string[], value: Json, insert: boolean) => {
    if (parts.length === 0) {
      doc = value;
      return;
    }
    const { parent, key } = parentOf(parts);
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (insert) parent.splice(i, 0, value);
      else parent[i] = value;
    } else if (isObject(parent)) parent[key] = value;
    else throw new Error(`cannot set /${parts.join('/')}`);
  };
  const remove = (parts: string[]) => {
    get(parts);
    const { parent, key } = parentOf(parts);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else if (isObject(parent)) delete parent[key];
  };
  for (const raw of ops) {
    const op = raw as { op?: unknown; path?: unknown; from?: unknown; value?: Json };
    const path = parse(op.path);
    switch (op.op) {
      case 'add':
        put(path, structuredClone(op.value) as Json, true);
        break;
      case 'replace':
        get(path);
        put(path, structuredClone(op.value) as Json, false);
        break;
      case 'remove':
        remove(path);
        break;
      case 'move': {
        const v = get(parse(op.from));
        remove(parse(op.from));
        put(path, v, true);
        break;
      }
      case 'copy':
        put(path, structuredClone(get(parse(op.from))), true);
        break;
      case 'test':
        if (JSON.stringify(get(path)) !== JSON.stringify(op.value)) throw new Error(`test operation failed at ${String(op.path)}`);
        break;
      default:
        throw new Error(`unknown JSON patch operation ${JSON.stringify(op.op)}`);
    }
  }
  return doc;
}
