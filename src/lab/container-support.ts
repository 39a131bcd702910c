/**
 * What a lab host needs so runc and containerd work inside it (docs/lab.md, "Containers inside
 * hosts"), beside the host's own cgroups (cgroups.ts) and nspawn's keyring filter (container.ts):
 *
 * - nspawn without user namespaces mounts the v1 cgroup controller hierarchies read-only, and runc
 *   cannot make a container's cgroups there: a oneshot unit in the host's own layer remounts them
 *   read-write before anything else starts;
 * - overlayfs cannot use the host's overlay root as an upper layer, so containerd's snapshots
 *   need a directory on the machine's disk: one per host, bound at /var/lib/containerd.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const CGROUP_RW_UNIT = 'kprov-lab-cgroup-rw.service';

/** `$$` is systemd's escape for a literal `$` (the shell sees `$(…)` and `"$m"`). */
export const CGROUP_RW_UNIT_TEXT = `# Written by kprov lab up into this host's own layer (not the shared base image).
# nspawn mounts the cgroup controller hierarchies read-only; runc needs them writable.
[Unit]
Description=Writable cgroup controller hierarchies for containers (kprov lab)
DefaultDependencies=no
Before=sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for m in $$(findmnt -rn -t cgroup -o TARGET); do mount -o remount,bind,rw "$$m"; done'

[Install]
WantedBy=sysinit.target
`;

/** Where containerd keeps its state inside every host. */
export const CONTAINERD_ROOT = '/var/lib/containerd';

/** The host's containerd directory on the machine's disk, next to its overlay. */
export function containerdDir(hostDir: string): string {
  return path.join(hostDir, 'containerd');
}

/** Writes and enables the remount unit in a host's (mounted) root, i.e. in its upper layer. */
export async function installCgroupRemountUnit(root: string): Promise<void> {
  const units = path.join(root, 'etc/systemd/system');
  await writeFile(path.join(units, CGROUP_RW_UNIT), CGROUP_RW_UNIT_TEXT, { mode: 0o644 });
  const wants = path.join(units, 'sysinit.target.wants');
  await mkdir(wants, { recursive: true });
  await symlink(`/etc/systemd/system/${CGROUP_RW_UNIT}`, path.join(wants, CGROUP_RW_UNIT));
}
