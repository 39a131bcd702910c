/**
 * Finding group_vars/ and host_vars/ files the way Ansible's host_group_vars plugin does: for a
 * group or host NAME, the first of `NAME` (a directory, read recursively in sorted order, or a
 * file), `NAME.yml`, `NAME.yaml`, `NAME.json` that exists; hidden files, backups (`~`) and other
 * extensions (e.g. `all.yml.template`) inside directories are skipped.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { canonicalGroupName, isOldGroupName } from './groups.js';
import type { InventoryWarning } from './model.js';

const EXTENSIONS = ['.yml', '.yaml', '.json'];

export interface VarsFileRef {
  file: string;
  /** The group or host name as the file/directory spells it. */
  written: string;
}

export interface FoundVarsFiles {
  /** Canonical group name (or host name) → files, lowest precedence first. */
  byName: Map<string, VarsFileRef[]>;
  warnings: InventoryWarning[];
}

async function kindOf(p: string): Promise<'file' | 'dir' | 'other' | undefined> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
  } catch {
    // A dangling symbolic link still names a vars file: reading it reports the problem.
    return (await lstat(p).catch(() => undefined))?.isSymbolicLink() ? 'file' : undefined;
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

async function filesInDir(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await listDir(dir)) {
    if (name.startsWith('.') || name.endsWith('~')) continue;
    const full = path.join(dir, name);
    const ext = path.extname(name);
    const kind = await kindOf(full);
    if (kind === 'dir' && ext === '') out.push(...(await filesInDir(full)));
    else if (kind === 'file' && (ext === '' || EXTENSIONS.includes(ext))) out.push(full);
  }
  return out;
}

/**
 * The vars files under `<inventoryDir>/<sub>` (sub = group_vars or host_vars). Group names are
 * canonicalized (group_vars/k8s-cluster/ applies to k8s_cluster); files for an old name come
 * before those for the current name, so the current name wins where both set a variable.
 */
export async function findVarsFiles(inventoryDir: string, sub: 'group_vars' | 'host_vars'): Promise<FoundVarsFiles> {
  const root = path.join(inventoryDir, sub);
  const warnings: InventoryWarning[] = [];
  const entries = await listDir(root);
  const names = new Set<string>();
  for (const entry of entries) {
    if (entry.startsWith('.') || entry.endsWith('~')) continue;
    const ext = path.extname(entry);
    names.add(EXTENSIONS.includes(ext) ? entry.slice(0, -ext.length) : entry);
  }
  const written = [...names].sort((a, b) => Number(!isOldGroupName(a)) - Number(!isOldGroupName(b)) || a.localeCompare(b));
  const byName = new Map<string, VarsFileRef[]>();
  for (const name of written) {
    const candidates = ['', ...EXTENSIONS].map((ext) => path.join(root, name + ext));
    let chosen: string | undefined;
    for (const candidate of candidates) {
      const kind = await kindOf(candidate);
      if (kind === undefined) continue;
      if (chosen === undefined) {
        chosen = candidate;
        const files = kind === 'dir' ? await filesInDir(candidate) : [candidate];
        const key = sub === 'group_vars' ? canonicalGroupName(name) : name;
        const list = byName.get(key) ?? [];
        list.push(...files.map((file) => ({ file, written: name })));
        byName.set(key, list);
      } else {
        warnings.push({
          code: 'ignored-file',
          message: `ignored: ${path.relative(inventoryDir, chosen)} exists, and Ansible reads only the first of ${name}/, ${name}.yml, ${name}.yaml, ${name}.json`,
          location: { file: candidate },
        });
      }
    }
  }
  return { byName, warnings };
}
