/**
 * What a lab's artifact mirror serves, so `kprov lab up` can write an inventory that `kprov apply
 * cluster` applies as it is. A mirror root may hold `kprov-release.json`: the versions of the
 * artifacts below it. lab up pins the inventory to them, editing the line where the inventory
 * already sets a version (a group file would win over a new file in group_vars/all) and writing
 * the rest to group_vars/all/release.yml.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { KprovError } from '../errors.js';

export const RELEASE_FILE = 'kprov-release.json';

const releaseSchema = z.object({
  /** Variable → version or checksum, e.g. kube_version: v1.13.5, kubelet_checksum: sha256:… */
  pins: z.record(z.string().regex(/^[a-z_]+_(?:version|checksum)$/), z.string().min(1)),
});

export type ReleasePins = Readonly<Record<string, string>>;

/** The pins of the release a mirror root serves; undefined when it describes none. */
export async function readReleasePins(mirrorRoot: string): Promise<ReleasePins | undefined> {
  const file = path.join(mirrorRoot, RELEASE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KprovError('lab', `cannot read ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KprovError('lab', `${file} is not JSON`, { location: { file } });
  }
  const parsed = releaseSchema.safeParse(json);
  if (!parsed.success) throw new KprovError('lab', `${file}: expected {"pins": {"kube_version": "v1.13.5", …}}`, { location: { file } });
  return parsed.data.pins;
}

/** Sets each pinned variable as a user would: on the line that already sets it, else in group_vars/all/release.yml. */
export async function pinInventory(inventoryDir: string, pins: ReleasePins): Promise<void> {
  const remaining = new Map(Object.entries(pins));
  const groupVars = path.join(inventoryDir, 'group_vars');
  const files = (await readdir(groupVars, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    const edited = text.replace(/^([a-z_]+):.*$/gm, (line, key: string) => {
      const value = pins[key];
      if (value === undefined) return line;
      remaining.delete(key);
      return `${key}: ${value}`;
    });
    if (edited !== text) await writeFile(file, edited);
  }
  if (remaining.size > 0) {
    const lines = [...remaining].map(([k, v]) => `${k}: ${v}`);
    // release.yml may be one of the files just edited (an earlier lab up wrote it): add to it.
    const file = path.join(groupVars, 'all', 'release.yml');
    const current = await readFile(file, 'utf8').catch(() => `# The versions the lab's mirror serves (${RELEASE_FILE}).\n`);
    await writeFile(file, `${current.endsWith('\n') ? current : `${current}\n`}${lines.join('\n')}\n`);
  }
}
