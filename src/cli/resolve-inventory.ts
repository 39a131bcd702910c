/**
 * Which inventory a command works on: `-i/--inventory DIR`, else $KPROV_INVENTORY, else the one
 * directory under ./inventory other than `sample`.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../errors.js';
import type { CliIO } from './io.js';

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined)) !== undefined;
}

/** `p` relative to the working directory when it is inside it (as users typed it), else absolute. */
export function displayPath(p: string, cwd: string): string {
  const rel = path.relative(cwd, p);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}

/**
 * The absolute path of the inventory to use (a directory, or an INI file when one was named).
 * A named path that does not exist, several candidates or none are usage errors.
 */
export async function resolveInventoryDir(option: string | undefined, io: CliIO): Promise<string> {
  const named = option ?? io.env['KPROV_INVENTORY'];
  const from = option !== undefined ? '-i' : 'KPROV_INVENTORY';
  if (named !== undefined && named !== '') {
    const target = path.resolve(io.cwd, named);
    if (!(await exists(target))) {
      throw new KprovError('usage', `inventory ${named} (from ${from}) does not exist`, {
        hint: 'create one with: kprov init inventory/mycluster --hosts ADDR,ADDR,…',
      });
    }
    return target;
  }
  const root = path.join(io.cwd, 'inventory');
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const candidates = entries
    .filter((e) => e.isDirectory() && e.name !== 'sample' && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (candidates.length === 1) return path.join(root, candidates[0]!);
  if (candidates.length > 1) {
    throw new KprovError('usage', `several inventories under inventory/: ${candidates.join(', ')}`, {
      hint: `choose one with -i, e.g. -i inventory/${candidates[0]}, or set KPROV_INVENTORY`,
    });
  }
  throw new KprovError('usage', 'no inventory: no -i option, no KPROV_INVENTORY, and no directory under inventory/ other than sample', {
    hint: 'create one with: kprov init inventory/mycluster --hosts ADDR,ADDR,…',
  });
}
