/**
 * A cgroup of its own for every lab host, in every cgroup hierarchy of the machine.
 *
 * - systemd inside a container manages the `payload/system.slice/…` directories under the cgroup
 *   nspawn starts in; hosts started from one shared cgroup clash there and units fail at random
 *   ("Failed to attach to cgroup").
 * - runc inside a host puts containers below the host's cgroup in each controller hierarchy; a host
 *   joined only to `name=systemd` and cgroup2 would put them in the machine's shared controller
 *   cgroups.
 *
 * So each nspawn joins `<own>/kprov-lab/<lab>/<host>` in every hierarchy, where `<own>` is the
 * cgroup `lab up` itself runs in there (the hierarchy's root where it runs at the root): the lab
 * stays inside whatever limits and accounting its caller runs under. A new v1 cpuset cgroup has no
 * CPUs or memory nodes, so those are copied from its parent before anything joins it.
 */
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CgroupHierarchy {
  mountPoint: string;
  version: 1 | 2;
  /** v1: the controllers (or `name=…`) it was mounted with, sorted; v2: empty. */
  controllers: string[];
}

/** Mount options of a v1 cgroup file system that are not controllers. */
const NON_CONTROLLER_OPTIONS = /^(?:rw|ro|noprefix|clone_children|xattr|cpuset_v2_mode|favordynmods|nofavordynmods|release_agent=.*)$/;

/** Every cgroup hierarchy mounted in this mount namespace, once each (bind mounts of one are skipped). */
export function cgroupHierarchies(mountinfo: string): CgroupHierarchy[] {
  const out: CgroupHierarchy[] = [];
  const seen = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const device = fields[2];
    const mountPoint = fields[4];
    const [fsType, , superOptions = ''] = right.split(' ');
    if (!mountPoint || !device || (fsType !== 'cgroup' && fsType !== 'cgroup2')) continue;
    if (seen.has(device)) continue;
    seen.add(device);
    const controllers = fsType === 'cgroup' ? superOptions.split(',').filter((o) => o !== '' && !NON_CONTROLLER_OPTIONS.test(o)).sort() : [];
    out.push({ mountPoint, version: fsType === 'cgroup' ? 1 : 2, controllers });
  }
  return out;
}

/** `/proc/PID/cgroup` as a map from a hierarchy's key (sorted controllers, or '' for cgroup2) to the path in it. */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    out.set(m[1]!.split(',').filter((c) => c !== '').sort().join(','), m[2]!);
  }
  return out;
}

/** The lab's cgroup directory in each hierarchy: `<mount><own cgroup>/kprov-lab/<lab>`. */
export function planLabCgroups(hierarchies: readonly CgroupHierarchy[], own: ReadonlyMap<string, string>, lab: string): string[] {
  return hierarchies.map((h) => path.join(h.mountPoint, own.get(h.controllers.join(',')) ?? '/', 'kprov-lab', lab));
}

export function hostCgroupDirs(labDirs: readonly string[], host: string): string[] {
  return labDirs.map((d) => path.join(d, host));
}

/** Where this process would put lab `lab`'s cgroups (recorded in the lab's state before any is made). */
export async function labCgroupDirs(lab: string): Promise<string[]> {
  const [mountinfo, own] = await Promise.all([readFile('/proc/self/mountinfo', 'utf8'), readFile('/proc/self/cgroup', 'utf8')]);
  return planLabCgroups(cgroupHierarchies(mountinfo), parseProcCgroup(own), lab);
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined)) !== undefined;
}

async function hasEmptyCpuset(dir: string): Promise<boolean> {
  const cpus = await readFile(path.join(dir, 'cpuset.cpus'), 'utf8').catch(() => undefined);
  return cpus !== undefined && cpus.trim() === '';
}

/**
 * Creates a cgroup and any missing parents; in a v1 cpuset hierarchy each new one gets its
 * parent's CPUs and memory nodes (nothing can join an empty cpuset). Safe to run in parallel.
 */
export async function makeCgroup(dir: string): Promise<void> {
  const parent = path.dirname(dir);
  // A parent left with an empty cpuset (by a run killed half-way) is completed first.
  if (!(await exists(parent)) || (await hasEmptyCpuset(parent))) await makeCgroup(parent);
  await mkdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const own = await readFile(path.join(dir, file), 'utf8').catch(() => undefined);
    if (own === undefined || own.trim() !== '') continue;
    await writeFile(path.join(dir, file), await readFile(path.join(parent, file), 'utf8'));
  }
}

/**
 * argv that joins `dirs` (made beforehand with makeCgroup) and then execs `command`: the PID the
 * caller spawns is the command's own.
 */
export function inCgroupsArgv(dirs: readonly string[], command: readonly string[]): string[] {
  const script = 'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@"';
  return ['sh', '-c', script, 'sh', ...dirs, '--', ...command];
}

/** A cgroup whose last process is still exiting is busy for a moment. */
const BUSY_RETRY_MS = 5_000;

async function removeCgroup(dir: string): Promise<void> {
  const deadline = Date.now() + BUSY_RETRY_MS;
  for (;;) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() >= deadline) throw err;
      await sleep(100);
    }
  }
}

/** Removes a cgroup and every cgroup below it (runc's and the host's systemd's included). */
export async function removeCgroupTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return;
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(path.join(dir, e.name));
  await removeCgroup(dir);
}

/**
 * Removes a lab's cgroups in every hierarchy: the directories its state recorded, and where this
 * process or one at the hierarchy's root would have put them (a lab whose state was lost), then
 * `kprov-lab` once no lab uses it.
 */
export async function removeLabCgroups(lab: string, recorded: readonly string[]): Promise<void> {
  const atRoots = planLabCgroups(cgroupHierarchies(await readFile('/proc/self/mountinfo', 'utf8')), new Map(), lab);
  const dirs = [...new Set([...recorded, ...(await labCgroupDirs(lab)), ...atRoots])];
  for (const dir of dirs) {
    await removeCgroupTree(dir);
    await rmdir(path.dirname(dir)).catch(() => undefined);
  }
}
