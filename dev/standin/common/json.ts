/** JSON values compared as the API compares them: key order ignored, a null field the same as an absent one. */
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (!isObject(v)) return v;
  return Object.fromEntries(
    Object.keys(v)
      .filter((k) => v[k] !== null && v[k] !== undefined)
      .sort()
      .map((k) => [k, canonical(v[k])]),
  );
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}
