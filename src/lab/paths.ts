/** Where labs keep their state and the cached base image: outside the repository. */
import path from 'node:path';
import { packageRoot } from '../paths.js';

export const DEFAULT_STATE_ROOT = '/var/lib/kprov-lab';
export const DEFAULT_CACHE_ROOT = '/var/cache/kprov-lab';

/** KPROV_LAB_STATE moves all lab state (tests use it to try a tiny file system). */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env['KPROV_LAB_STATE'] || DEFAULT_STATE_ROOT;
}

export function labsDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateRoot(env), 'labs');
}

export function labDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(labsDir(env), name);
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env['KPROV_LAB_CACHE'] || DEFAULT_CACHE_ROOT;
}

/** A lab script compiled to dist/src/lab/NAME.js, run as its own process (this module may be bundled elsewhere). */
export function labScript(name: string): string {
  return path.join(packageRoot, 'dist', 'src', 'lab', `${name}.js`);
}
