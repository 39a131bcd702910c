/**
 * List filters: ?labelSelector= (equality and existence) and ?fieldSelector= on the fields v1.13
 * supports for the served kinds (metadata.name/namespace everywhere; for pods also spec.nodeName,
 * spec.restartPolicy, spec.schedulerName, spec.serviceAccountName, status.phase, status.podIP).
 * A missing string field compares as "", as the apiserver's field sets do.
 */
import type { Obj } from './registry.js';

/** Equality-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`. */
export function labelMatcher(selector: string | null): (o: Obj) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((t) => t.trim()).filter(Boolean);
  return (o) => {
    const labels = ((o.metadata ?? {}).labels ?? {}) as Record<string, string>;
    return terms.every((t) => {
      let m: RegExpExecArray | null;
      if ((m = /^([^!=\s]+)\s*!=\s*(.*)$/.exec(t))) return labels[m[1]!] !== m[2];
      if ((m = /^([^!=\s]+)\s*==?\s*(.*)$/.exec(t))) return labels[m[1]!] === m[2];
      if (t.startsWith('!')) return !(t.slice(1) in labels);
      return t in labels;
    });
  };
}

function fieldValue(o: Obj, path: string): string {
  let v: unknown = o;
  for (const part of path.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
  return typeof v === 'string' ? v : '';
}

export function fieldMatcher(selector: string | null): (o: Obj) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((t) => t.trim()).filter(Boolean);
  return (o) =>
    terms.every((t) => {
      const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(t);
      if (!m) return true;
      const actual = fieldValue(o, m[1]!.trim());
      return m[2] === '!=' ? actual !== m[3] : actual === m[3];
    });
}
