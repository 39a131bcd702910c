import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * The package's root directory (where inventory/sample, playbooks/ and templates/ live).
 * Compiled code sits in dist/src/, sources in src/; both are found by walking up to package.json.
 */
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (path.basename(dir) === 'src') {
      const parent = path.dirname(dir);
      return path.basename(parent) === 'dist' ? path.dirname(parent) : parent;
    }
    dir = path.dirname(dir);
  }
  throw new Error('kprov: cannot locate the package root');
}

export const packageRoot = findPackageRoot();
export const sampleInventoryDir = path.join(packageRoot, 'inventory', 'sample');
export const playbooksDir = path.join(packageRoot, 'playbooks');
export const templatesDir = path.join(packageRoot, 'templates');
