/**
 * `kprov init`'s work, shared with `kprov lab up` (which writes the lab's inventory the same way):
 * the sample inventory copied to a directory, inventory.ini written for the given hosts.
 */
import { cp, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../errors.js';
import { sampleInventoryDir } from '../paths.js';
import { nameHosts, parseHostList, renderInventoryIni } from './builder.js';

export interface InitOptions {
  hosts?: string;
  force?: boolean;
}

/** Copies the sample inventory to `dir`, optionally writing inventory.ini for the given hosts. */
export async function initInventory(dir: string, options: InitOptions): Promise<{ hosts: number }> {
  const existing = await stat(dir).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new KprovError('usage', `${dir} exists and is not a directory`);
  }
  if (existing && !options.force && (await readdir(dir)).length > 0) {
    throw new KprovError('usage', `${dir} already exists and is not empty`, {
      hint: 'pass --force to overwrite the inventory files in it (pki/ and credentials/ are kept)',
    });
  }
  const addresses = options.hosts === undefined ? undefined : parseHostList(options.hosts);
  await mkdir(dir, { recursive: true });
  await cp(sampleInventoryDir, dir, { recursive: true, force: true });
  if (addresses) {
    const ini = renderInventoryIni(nameHosts(addresses), `Written by kprov init --hosts ${addresses.join(',')}`);
    await writeFile(path.join(dir, 'inventory.ini'), ini);
    return { hosts: addresses.length };
  }
  return { hosts: 0 };
}
