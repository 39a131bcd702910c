/** "Did you mean …?" for a mistyped name (a tag, a variable): the closest known one. */

/**
 * The known word a typo most likely meant: the nearest by edit distance (a swap of two neighbours
 * counts as one edit, so `etdc` → `etcd`), ignoring case, within a third of the word's length;
 * else one it is the start of. Undefined when none is close.
 */
export function closestMatch(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { word: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(w, candidate.toLowerCase());
    if (!best || distance < best.distance) best = { word: candidate, distance };
  }
  if (best && best.distance <= Math.max(1, Math.floor(w.length / 3))) return best.word;
  return w.length >= 3 ? known.find((t) => t.toLowerCase().startsWith(w)) : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const width = b.length + 1;
  const d = new Array<number>((a.length + 1) * width).fill(0);
  const at = (i: number, j: number) => d[i * width + j]!;
  for (let i = 0; i <= a.length; i++) d[i * width] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * width + j] = v;
    }
  }
  return at(a.length, b.length);
}
