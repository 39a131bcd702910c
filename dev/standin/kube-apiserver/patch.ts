/**
 * PATCH bodies: JSON merge patch (RFC 7386) and the strategic merge patch kubelets send for node
 * status, where lists such as conditions and addresses merge by their `type` key instead of being
 * replaced. Directives other than `$patch: replace|delete` are dropped.
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

/** Merge keys of the core/v1 lists a kubelet or controller patches. */
const mergeKeys: Record<string, string> = {
  conditions: 'type',
  addresses: 'type',
  taints: 'key',
  ports: 'port',
  containers: 'name',
  volumes: 'name',
  env: 'name',
};

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
    const key = mergeKeys[k];
    const current = out[k];
    if (key && Array.isArray(v) && Array.isArray(current)) {
      out[k] = mergeList(current, v, key);
    } else {
      out[k] = strategicMergePatch(current, v);
    }
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
