/**
 * Lab helpers for end-to-end tests: when lab tests can run, and what a lab that was taken down
 * must have left behind (nothing). Starting a lab is dev/lab-hosts.ts.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { namespaceExists, netnsPath } from '../../src/lab/network.js';
import { processesInNetns } from '../../src/lab/processes.js';
import { readLabState } from '../../src/lab/state.js';

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The reason e2e lab tests are skipped, or false when they can run. */
export function labSkipReason(): string | false {
  return isRoot() ? false : 'lab tests need root (systemd-nspawn, mounts, network namespaces); run them as root';
}

/** Every process recorded for a lab has exited and every namespace is deleted, with nothing left in it. */
export async function assertResourcesGone(resources: { pids: number[]; namespaces: string[]; cgroups?: string[] }): Promise<void> {
  for (const pid of resources.pids) {
    const alive = await readFile(`/proc/${pid}/stat`, 'utf8').then(
      (s) => !/\) Z /.test(s),
      () => false,
    );
    assert.equal(alive, false, `process ${pid} is gone`);
  }
  for (const ns of resources.namespaces) {
    assert.equal(await namespaceExists(ns), false, `namespace ${ns} is deleted`);
    assert.deepEqual(await processesInNetns(netnsPath(ns)), []);
  }
  for (const dir of resources.cgroups ?? []) {
    await assert.rejects(stat(dir), `cgroup ${dir} is removed`);
  }
}

/** Everything a lab's state records, for tests that check nothing is left behind. */
export async function labResources(name: string): Promise<{ pids: number[]; namespaces: string[]; mounts: string[]; cgroups: string[] }> {
  const state = await readLabState(name);
  if (!state) return { pids: [], namespaces: [], mounts: [], cgroups: [] };
  const pids = [
    ...(state.mirror?.process ? [state.mirror.process.pid] : []),
    ...(state.registry?.process ? [state.registry.process.pid] : []),
    ...state.hosts.flatMap((h) => [h.nspawn?.pid, h.leader?.pid].filter((p): p is number => p !== undefined)),
  ];
  return {
    pids,
    namespaces: [state.namespace, ...state.hosts.map((h) => h.namespace)],
    mounts: state.hosts.map((h) => h.root),
    cgroups: [...state.cgroups, ...state.hosts.flatMap((h) => h.cgroups)],
  };
}
