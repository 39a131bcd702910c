/**
 * Debian bookworm's Node 18 — what lab hosts run the stand-ins with — unpacked from its packages
 * into the cache. Debian's node loads some built-ins from /usr/share/nodejs, so commands run in a
 * private mount namespace where the unpacked /usr/share is laid over the machine's (read-only).
 */
import { execa } from 'execa';
import path from 'node:path';
import { DEFAULT_CACHE_DIR, debPackage } from '../../../../dev/release/debs.js';

export interface Node18 {
  /** Prefix for a command: `[...wrap, script, ...args]` runs `script` under Debian's Node 18. */
  wrap: string[];
  version: string;
}

let cached: Promise<Node18> | undefined;

async function locate(): Promise<Node18> {
  const madison = (await execa('apt-cache', ['madison', 'nodejs'])).stdout;
  const version = madison
    .split('\n')
    .map((l) => l.split('|')[1]?.trim() ?? '')
    .find((v) => v.startsWith('18.'));
  if (!version) throw new Error('no Node 18 (nodejs 18.x) in the Debian package lists');
  const pkgs = await Promise.all([
    debPackage(DEFAULT_CACHE_DIR, 'nodejs', version),
    debPackage(DEFAULT_CACHE_DIR, 'libnode108', version),
    debPackage(DEFAULT_CACHE_DIR, 'libc-ares2'),
    debPackage(DEFAULT_CACHE_DIR, 'node-acorn'),
    debPackage(DEFAULT_CACHE_DIR, 'node-cjs-module-lexer'),
    debPackage(DEFAULT_CACHE_DIR, 'node-undici'),
  ]);
  const libs = pkgs.map((p) => path.join(p.root, 'usr', 'lib', 'x86_64-linux-gnu')).join(':');
  const shares = pkgs.map((p) => path.join(p.root, 'usr', 'share')).join(':');
  const node = path.join(pkgs[0]!.root, 'usr', 'bin', 'node');
  const script = `mount -t overlay overlay -o "lowerdir=${shares}:/usr/share" /usr/share && LD_LIBRARY_PATH="${libs}" exec "${node}" "$@"`;
  const wrap = ['unshare', '-m', 'sh', '-c', script, 'node18'];
  const v = await execa(wrap[0]!, [...wrap.slice(1), '--version']);
  return { wrap, version: v.stdout.trim() };
}

export function debianNode18(): Promise<Node18> {
  cached ??= locate();
  return cached;
}
