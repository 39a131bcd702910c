/**
 * A cgroup of its own for every lab host. nspawn puts its container under the cgroup it was
 * started in; started from one shared cgroup, every container's systemd manages the same
 * `payload/system.slice/…` directories and units fail at random ("Failed to attach to cgroup").
 * Each nspawn is therefore moved into `kprov-lab/<lab>/<host>` (in the hierarchies systemd uses:
 * cgroup2 and the named `systemd` one) before it execs.
 */
import { readdir, readFile, rmdir } from 'node:fs/promises';
import path from 'node:path';

interface MountInfoEntry {
  mountPoint: string;
  fsType: string;
  superOptions: string;
}

function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4];
    const [fsType, , superOptions] = right.split(' ');
    if (mountPoint && fsType) out.push({ mountPoint, fsType, superOptions: superOptions ?? '' });
  }
  return out;
}

/** Mount points of the cgroup hierarchies systemd inside a container works in. */
export function systemdCgroupMounts(mountinfo: string): string[] {
  return parseMountInfo(mountinfo)
    .filter((m) => m.fsType === 'cgroup2' || (m.fsType === 'cgroup' && m.superOptions.split(',').includes('name=systemd')))
    .map((m) => m.mountPoint);
}

export async function hostCgroupDirs(lab: string, host: string): Promise<string[]> {
  const mounts = systemdCgroupMounts(await readFile('/proc/self/mountinfo', 'utf8'));
  return mounts.map((m) => path.join(m, 'kprov-lab', lab, host));
}

/**
 * argv that joins `dirs` (creating them) and then execs `command`: the PID the caller spawns is
 * the command's own.
 */
export function inCgroupsArgv(dirs: readonly string[], command: readonly string[]): string[] {
  const script = 'while [ "$1" != -- ]; do mkdir -p "$1" && echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@"';
  return ['sh', '-c', script, 'sh', ...dirs, '--', ...command];
}

/** Removes a cgroup and every cgroup below it (each must be empty of processes by now). */
export async function removeCgroupTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return;
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(path.join(dir, e.name));
  await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** Removes `kprov-lab/<lab>` (and `kprov-lab` once no lab uses it) in every hierarchy. */
export async function removeLabCgroups(lab: string): Promise<void> {
  const mounts = systemdCgroupMounts(await readFile('/proc/self/mountinfo', 'utf8'));
  for (const m of mounts) {
    await removeCgroupTree(path.join(m, 'kprov-lab', lab));
    await rmdir(path.join(m, 'kprov-lab')).catch(() => undefined);
  }
}
