/** List filters: ?labelSelector= (equality and existence) and ?fieldSelector= on metadata.name/namespace. */
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

export function fieldMatcher(selector: string | null): (o: Obj) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((t) => t.trim()).filter(Boolean);
  return (o) =>
    terms.every((t) => {
      const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(t);
      if (!m) return true;
      const meta = o.metadata ?? {};
      const actual = m[1] === 'metadata.name' ? meta.name : m[1] === 'metadata.namespace' ? meta.namespace : undefined;
      return m[2] === '!=' ? actual !== m[3] : actual === m[3];
    });
}
