/**
 * kprov as installed, copied into `dir` so a test can break one of its templates without a hook
 * in the product: package.json, bin/, templates/, playbooks/, inventory/, the compiled modules
 * (dist/src/) and the bundled CLI bin/kprov.js runs (dist/cli/); node_modules is linked.
 */
import { cp, mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../../src/paths.js';

export async function copyPackage(dir: string): Promise<string> {
  await mkdir(path.join(dir, 'dist'), { recursive: true });
  for (const part of ['package.json', 'bin', 'templates', 'playbooks', 'inventory', path.join('dist', 'src'), path.join('dist', 'cli')]) {
    await cp(path.join(packageRoot, part), path.join(dir, part), { recursive: true });
  }
  await symlink(path.join(packageRoot, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}
