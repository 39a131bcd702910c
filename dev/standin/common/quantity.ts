/**
 * resource.Quantity strings as pods and nodes carry them ("100m", "2", "64Mi", "1G", "129e6"),
 * in milli-units so CPU and memory compare exactly in integers.
 */
const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const decimal: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** The quantity times 1000, or undefined when it is not a quantity. */
export function milliValue(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  if (typeof q === 'number') return Math.round(q * 1000);
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E))?$/.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const factor = m[2] ? binary[m[2]]! : m[3] ? 10 ** Number(m[3].slice(1)) : decimal[m[4] ?? '']!;
  return Math.ceil(n * factor * 1000);
}
