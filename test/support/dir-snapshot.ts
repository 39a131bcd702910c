/** Content snapshots of a directory tree, to prove a run changed nothing (or only what it should). */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** Every file under `dir` (relative path → sha256). */
export async function snapshot(dir: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const child = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) for (const [k, v] of await snapshot(dir, child)) out.set(k, v);
    else out.set(child, createHash('sha256').update(await readFile(path.join(dir, child))).digest('hex'));
  }
  return out;
}

/** Files whose content differs between two snapshots (added, removed or changed). */
export function changedFiles(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}
