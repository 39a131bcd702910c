/** Checks made before a lab touches anything, so bad input leaves nothing half-made. */
import { accessSync, constants } from 'node:fs';
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { KprovError } from '../errors.js';

/** The Debian package that provides each tool the lab runs. */
export const COMMAND_PACKAGES: Readonly<Record<string, string>> = {
  debootstrap: 'debootstrap',
  'systemd-nspawn': 'systemd-container',
  ip: 'iproute2',
  nsenter: 'util-linux',
  flock: 'util-linux',
  mount: 'mount',
  umount: 'mount',
  'ssh-keygen': 'openssh-client',
  openssl: 'openssl',
  sysctl: 'procps',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
};

export const UP_COMMANDS = Object.keys(COMMAND_PACKAGES);
export const DOWN_COMMANDS = ['ip', 'umount'];
export const EXEC_COMMANDS = ['nsenter'];

export function requireRoot(uid: number | undefined = process.getuid?.()): void {
  if (uid !== 0) {
    throw new KprovError('lab', 'kprov lab needs root (it mounts file systems and creates network namespaces)', {
      hint: 'run it as root, e.g. with sudo',
    });
  }
}

/** The full path of `command` on PATH, or undefined. */
export function findCommand(command: string, pathEnv: string): string | undefined {
  for (const dir of pathEnv.split(':')) {
    if (dir === '') continue;
    const full = path.join(dir, command);
    try {
      accessSync(full, constants.X_OK);
      return full;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export function requireCommands(commands: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const pathEnv = env['PATH'] ?? '';
  const missing = commands.filter((c) => findCommand(c, pathEnv) === undefined);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((c) => COMMAND_PACKAGES[c] ?? c))];
  throw new KprovError('lab', `missing command${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`, {
    hint: `install ${packages.length > 1 ? 'the packages' : 'the package'}: apt-get install ${packages.join(' ')}`,
  });
}

/** Free bytes on the file system that holds `dir` (or its nearest existing parent). */
export async function freeBytes(dir: string): Promise<number> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      const s = await statfs(current);
      return s.bavail * s.bsize;
    } catch (err) {
      const parent = path.dirname(current);
      if (parent === current) throw err;
      current = parent;
    }
  }
}

export async function requireFreeSpace(dir: string, neededBytes: number): Promise<void> {
  const free = await freeBytes(dir);
  if (free < neededBytes) {
    throw new KprovError('lab', `not enough disk space in ${dir}: ${mib(free)} free, ${mib(neededBytes)} needed`, {
      hint: 'free some space there (or point KPROV_LAB_STATE / KPROV_LAB_CACHE elsewhere)',
    });
  }
}

function mib(bytes: number): string {
  return `${Math.floor(bytes / 1024 / 1024)} MiB`;
}
