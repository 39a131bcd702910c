/** The mounts this process can see, read from /proc/self/mountinfo, and unmounting them. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from './run.js';

/** Mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountPoints(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    if (fields.length > 4) out.push(unescapeMountPath(fields[4]!));
  }
  return out;
}

/** Mount points at or below `dir`, deepest first (the order they must be unmounted in). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const root = path.resolve(dir);
  const all = parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8'));
  const under = all.filter((m) => m === root || m.startsWith(`${root}/`));
  return [...new Set(under)].sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
}

export async function isMountPoint(dir: string): Promise<boolean> {
  return (await mountsUnder(dir)).includes(path.resolve(dir));
}

/**
 * Unmounts everything at or below `dir`. A mount still busy after every process using it was
 * stopped is detached lazily, so a retried `lab down` can finish.
 */
export async function unmountAll(dir: string): Promise<void> {
  for (const mount of await mountsUnder(dir)) {
    const plain = await run('umount', [mount], { allowFailure: true, timeoutMs: 30_000 });
    if (plain.code !== 0 && (await isMountPoint(mount))) {
      await run('umount', ['--lazy', mount], { timeoutMs: 30_000 });
    }
  }
}
