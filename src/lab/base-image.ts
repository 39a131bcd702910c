/**
 * The Debian root file system every lab host boots from (read-only, as the lower layer of each
 * host's overlay). Built once with debootstrap and cached outside the repository under a name
 * that hashes the recipe, so changing the recipe builds a new image.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../errors.js';
import { findAptMirror } from './apt-mirror.js';
import { withFileLock } from './file-lock.js';
import { unmountAll } from './mounts.js';
import { cacheRoot } from './paths.js';
import { requireCommands, requireFreeSpace, requireRoot } from './preflight.js';
import { run } from './run.js';

export const BASE_SUITE = 'bookworm';
export const BASE_VARIANT = 'minbase';
export const BASE_PACKAGES: readonly string[] = [
  'systemd',
  'systemd-sysv',
  'openssh-server',
  'iproute2',
  'dbus',
  'ca-certificates',
  'curl',
  'nodejs',
  'sudo',
  'procps',
  'iptables',
  'kmod',
  'libseccomp2',
  'openssl',
  'conntrack',
];

/** The unprivileged account tests use for non-root login with sudo. */
export const LAB_USER = 'kprov';

/**
 * sshd settings of every lab host: root logs in with the bootstrap password until the cluster
 * key is installed. Only ed25519 and ECDSA host keys: an RSA key costs ~0.6 s of CPU per host.
 */
export const SSHD_CONFIG = `# kprov lab host: password login for the bootstrap, public keys for everything after.
PermitRootLogin yes
PasswordAuthentication yes
PubkeyAuthentication yes
KbdInteractiveAuthentication no
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
UseDNS no
`;

export const SUDOERS = `${LAB_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n`;

/**
 * debootstrap copies the build machine's resolv.conf; lab hosts get none instead: the lab has no
 * way out, and with no name server a lookup fails at once (glibc asks 127.0.0.1) instead of
 * timing out towards an address outside the lab.
 */
export const RESOLV_CONF = '# kprov lab host: no name servers (the lab has no way out); names are in /etc/hosts.\n';

/**
 * Units masked in every host so `systemctl is-system-running` says `running`. None is needed
 * today: units that failed "at random" with many hosts were cgroup clashes (see cgroups.ts).
 */
export const MASKED_UNITS: readonly string[] = [];

/** Bump when customize() changes in a way the hashed text below does not show. */
const RECIPE_REVISION = 1;

const BUILD_TIMEOUT_MS = 20 * 60_000;
/** debootstrap's image is ~400 MB; leave room for its downloads. */
const BUILD_SPACE_BYTES = 1024 * 1024 * 1024;

export interface BaseRecipe {
  suite: string;
  variant: string;
  packages: readonly string[];
  mirror: string;
}

export function recipeHash(recipe: BaseRecipe): string {
  const text = JSON.stringify({
    ...recipe,
    revision: RECIPE_REVISION,
    sshd: SSHD_CONFIG,
    sudoers: SUDOERS,
    resolv: RESOLV_CONF,
    user: LAB_USER,
    masked: MASKED_UNITS,
  });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export type BaseImageEvent = { type: 'base-image'; status: 'cached' | 'building' | 'built'; path: string; ms?: number };

export interface BaseImageOptions {
  env?: NodeJS.ProcessEnv;
  onEvent?: (event: BaseImageEvent) => void;
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined)) !== undefined;
}

/** The recipe for this machine (its apt mirror) and where its image is cached. */
export async function baseImageLocation(env: NodeJS.ProcessEnv = process.env): Promise<{ recipe: BaseRecipe; dir: string }> {
  const mirror = await findAptMirror(BASE_SUITE);
  const recipe: BaseRecipe = { suite: BASE_SUITE, variant: BASE_VARIANT, packages: BASE_PACKAGES, mirror };
  return { recipe, dir: path.join(cacheRoot(env), `base-${recipeHash(recipe)}`) };
}

/**
 * Returns the cached base image's directory, building it first if needed. Safe to call from many
 * processes at once: one builds (under a lock), the others wait and reuse its result.
 */
export async function ensureBaseImage(options: BaseImageOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const { recipe, dir } = await baseImageLocation(env);
  if (await exists(dir)) {
    options.onEvent?.({ type: 'base-image', status: 'cached', path: dir });
    return dir;
  }
  requireRoot();
  requireCommands(['debootstrap', 'flock', 'umount'], env);
  const cache = cacheRoot(env);
  await mkdir(cache, { recursive: true });
  await requireFreeSpace(cache, BUILD_SPACE_BYTES);
  return withFileLock(`${dir}.lock`, BUILD_TIMEOUT_MS + 60_000, async () => {
    if (await exists(dir)) {
      options.onEvent?.({ type: 'base-image', status: 'cached', path: dir });
      return dir;
    }
    options.onEvent?.({ type: 'base-image', status: 'building', path: dir });
    const started = Date.now();
    await removeStaleBuilds(cache, path.basename(dir));
    const tmp = `${path.join(cache, `.build-${path.basename(dir)}`)}-${process.pid}`;
    try {
      await debootstrap(recipe, tmp, `${dir}.log`);
      await customize(tmp);
      await rename(tmp, dir);
    } catch (err) {
      await unmountAll(tmp).catch(() => undefined);
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
    options.onEvent?.({ type: 'base-image', status: 'built', path: dir, ms: Date.now() - started });
    return dir;
  });
}

/** Leftovers of builders that were killed (we hold the lock, so nobody else is using them). */
async function removeStaleBuilds(cache: string, base: string): Promise<void> {
  for (const name of await readdir(cache)) {
    if (!name.startsWith(`.build-${base}-`)) continue;
    const stale = path.join(cache, name);
    await unmountAll(stale);
    await rm(stale, { recursive: true, force: true });
  }
}

async function debootstrap(recipe: BaseRecipe, target: string, logFile: string): Promise<void> {
  const args = [
    `--variant=${recipe.variant}`,
    `--include=${recipe.packages.join(',')}`,
    recipe.suite,
    target,
    recipe.mirror,
  ];
  const result = await run('debootstrap', args, { timeoutMs: BUILD_TIMEOUT_MS, allowFailure: true });
  const log = await open(logFile, 'w');
  await log.writeFile(`$ debootstrap ${args.join(' ')}\n${result.stdout}\n${result.stderr}\n`);
  await log.close();
  if (result.code !== 0) {
    throw new KprovError('lab', `debootstrap failed with exit code ${result.code} building the lab base image`, {
      hint: `see ${logFile}${recipe.mirror ? ` (mirror ${recipe.mirror})` : ''}`,
    });
  }
}

async function customize(root: string): Promise<void> {
  const sshDir = path.join(root, 'etc/ssh');
  // Each host gets fresh keys of its own when it is created.
  for (const name of await readdir(sshDir)) {
    if (name.startsWith('ssh_host_')) await rm(path.join(sshDir, name));
  }
  await mkdir(path.join(sshDir, 'sshd_config.d'), { recursive: true });
  await writeFile(path.join(sshDir, 'sshd_config.d/kprov-lab.conf'), SSHD_CONFIG, { mode: 0o644 });
  await run('chroot', [root, 'useradd', '--create-home', '--shell', '/bin/bash', '--user-group', LAB_USER]);
  const sudoers = path.join(root, 'etc/sudoers.d', LAB_USER);
  await writeFile(sudoers, SUDOERS, { mode: 0o440 });
  await chmod(sudoers, 0o440);
  for (const unit of MASKED_UNITS) {
    await run('chroot', [root, 'systemctl', 'mask', unit]);
  }
  await rm(path.join(root, 'etc/resolv.conf'), { force: true });
  await writeFile(path.join(root, 'etc/resolv.conf'), RESOLV_CONF, { mode: 0o644 });
  // Written per host; an empty base file would make every host share one ID.
  await writeFile(path.join(root, 'etc/machine-id'), '');
  await rm(path.join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
  await mkdir(path.join(root, 'var/cache/apt/archives/partial'), { recursive: true });
  await rm(path.join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
  await mkdir(path.join(root, 'var/lib/apt/lists/partial'), { recursive: true });
}
