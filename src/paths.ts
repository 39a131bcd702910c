import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * The package's root directory (where inventory/sample, playbooks/ and templates/ live), found by
 * walking up to package.json: compiled code sits in dist/src/, the bundled CLI in dist/cli/.
 */
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('kprov: cannot locate the package root');
}

export const packageRoot = findPackageRoot();
export const sampleInventoryDir = path.join(packageRoot, 'inventory', 'sample');
export const playbooksDir = path.join(packageRoot, 'playbooks');
export const templatesDir = path.join(packageRoot, 'templates');
