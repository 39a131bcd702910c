/**
 * Inventories on disk for the cluster tests: a temporary directory with inventory.ini and
 * group_vars, loaded through the real loader.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { stringify } from 'yaml';
import type { ArtifactFile } from '../../../src/artifacts/download.js';
import type { ArtifactId } from '../../../src/artifacts/ids.js';
import type { ArtifactIndex } from '../../../src/cluster/artifact-index.js';
import { HostState } from '../../../src/engine/host-state.js';
import { createTemplateRenderer } from '../../../src/engine/template.js';
import { loadInventory, type Inventory } from '../../../src/inventory/load.js';
import { createClusterRun, type ClusterRun, type ClusterTaskContext } from '../../../src/cluster/run.js';
import type { ExecScript } from '../../../dev/fake-fleet.js';

export interface ClusterSpec {
  /** Control plane + etcd hosts (default 3). */
  controlPlane?: number;
  workers?: number;
  /** Lines for group_vars/all/all.yml. */
  vars?: Record<string, unknown>;
}

/** node1…nodeN at 10.10.0.N: the first `controlPlane` run the control plane and etcd. */
export async function writeInventory(t: TestContext, spec: ClusterSpec = {}): Promise<string> {
  const cp = spec.controlPlane ?? 3;
  const workers = spec.workers ?? 0;
  const names = Array.from({ length: cp + workers }, (_, i) => `node${i + 1}`);
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-cluster-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cpNames = names.slice(0, cp);
  const ini = [
    '[all]',
    ...names.map((n, i) => `${n} ansible_host=10.10.0.${i + 1} ip=10.10.0.${i + 1}`),
    '',
    '[kube_control_plane]',
    ...cpNames,
    '',
    '[etcd]',
    ...cpNames,
    '',
    '[kube_node]',
    ...names,
    '',
    '[k8s_cluster:children]',
    'kube_control_plane',
    'kube_node',
    '',
  ].join('\n');
  await writeFile(path.join(dir, 'inventory.ini'), ini);
  await mkdir(path.join(dir, 'group_vars', 'all'), { recursive: true });
  await writeFile(path.join(dir, 'group_vars', 'all', 'all.yml'), Object.keys(spec.vars ?? {}).length > 0 ? stringify(spec.vars) : '{}\n');
  return dir;
}

export async function loadTestInventory(t: TestContext, spec: ClusterSpec = {}): Promise<Inventory> {
  return loadInventory(await writeInventory(t, spec));
}

/** A task context for `host` of a loaded inventory, with the real template renderer. */
export function taskContext(inventory: Inventory, host: string, options: { dryRun?: boolean; run?: ClusterRun; warnings?: string[] } = {}): ClusterTaskContext {
  const h = inventory.hosts.find((x) => x.name === host)!;
  const render = createTemplateRenderer();
  return {
    host: h,
    vars: h.vars,
    inventory,
    playHosts: inventory.hosts,
    run: options.run ?? createClusterRun(inventory, { dryRun: options.dryRun ?? false }),
    dryRun: options.dryRun ?? false,
    state: new HostState(),
    render,
    facts: () => Promise.reject(new Error('no facts in this test')),
    warn: (m) => options.warnings?.push(m),
  };
}

/** A run context over a loaded inventory whose artifacts are `artifacts` (no downloads). */
export function testRun(inventory: Inventory, artifacts?: Promise<ArtifactIndex>, options: { dryRun?: boolean } = {}): ClusterRun {
  return createClusterRun(inventory, { dryRun: options.dryRun ?? false }, {
    artifacts: () => artifacts ?? Promise.reject(new Error('this test gave the run no artifacts')),
  });
}

/**
 * The run's artifacts without downloading: one small local file per installed binary, in the
 * install paths the catalogue uses (bin_dir), so roles upload them with the binary helper.
 */
export async function fakeArtifacts(t: TestContext, binDir = '/usr/local/bin'): Promise<ArtifactIndex> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-artifacts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const filesOf: Partial<Record<ArtifactId, string[]>> = {
    etcd: ['etcd', 'etcdctl'],
    'kube-apiserver': ['kube-apiserver'],
    'kube-controller-manager': ['kube-controller-manager'],
    'kube-scheduler': ['kube-scheduler'],
    kubectl: ['kubectl'],
  };
  const out = new Map<ArtifactId, ArtifactFile[]>();
  for (const [id, names] of Object.entries(filesOf) as [ArtifactId, string[]][]) {
    const files: ArtifactFile[] = [];
    for (const name of names) {
      const content = Buffer.from(`#!/bin/sh\n# fake ${name}\n`);
      const cachePath = path.join(dir, name);
      await writeFile(cachePath, content);
      files.push({ name, installPath: `${binDir}/${name}`, mode: 0o755, sha256: createHash('sha256').update(content).digest('hex'), size: content.length, cachePath });
    }
    out.set(id, files);
  }
  return {
    filesFor: (_host, id) => {
      const files = out.get(id);
      if (!files) throw new Error(`no fake artifact ${id}`);
      return files;
    },
    warningsFor: () => [],
  };
}

/** What the fake cluster's tools answer; tests flip these to provoke failures. */
export interface FakeClusterState {
  /** Members `etcdctl member list` reports to a host asking the others (undefined: nobody answers). */
  members?: { name: string; peerURLs: string[] }[];
  /** `etcdctl member add` calls: [host, name, peer URL]. */
  added: [string, string, string][];
  /** Hosts whose local etcd is not healthy. */
  unhealthy: Set<string>;
  /**
   * As etcd does: an added member gets its name in `member list` once it has started (this says
   * whether the member with that peer URL runs), and `member add` is refused while another added
   * member has not started. Without it, added members stay unnamed and every add is accepted.
   */
  started?: (peerUrl: string) => boolean;
}

/**
 * Answers the commands the etcd and control-plane roles run beyond files and systemd: the
 * membership facts script, the other members' port probe, etcdctl (health, member list/add) and kubectl (healthz, component
 * statuses), as a healthy cluster would.
 */
export function clusterScript(state: FakeClusterState): ExecScript {
  return (argv, machine) => {
    const [cmd, ...args] = argv;
    if (cmd === 'sh' && args[2] === 'kprov-etcd-facts') {
      const [dataDir = '', envFile = '', etcdctl = ''] = args.slice(3);
      const env = machine.files.get(envFile)?.content.toString() ?? '';
      // What the script's sed prints: the env file's state and initial cluster, in file order.
      const settings = env.split('\n').flatMap((l) => {
        const m = /^ETCD_INITIAL_CLUSTER(_STATE)?=(.*)$/.exec(l);
        return m ? [`${m[1] ? 'state' : 'cluster'}=${m[2]}`] : [];
      });
      const lines = [machine.dirs.has(`${dataDir}/member`) ? 'data' : 'nodata', ...settings, ...(machine.files.has(etcdctl) ? ['etcdctl'] : [])];
      return { code: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
    }
    if (cmd === 'sh' && args[2] === 'kprov-etcd-reachable') {
      // A running cluster listens on every other member's client port; a new one on none.
      const endpoints = (args.length - 3) / 2;
      const open = state.members ? Array.from({ length: endpoints }, (_, i) => `open ${i}\n`).join('') : '';
      return { code: 0, stdout: open, stderr: '' };
    }
    if (cmd?.endsWith('/etcdctl')) {
      const rest = argv.filter((a) => !a.startsWith('--'));
      if (rest.includes('health')) {
        const unit = machine.units.get('etcd.service');
        // An unhealthy member's etcd exits: systemd then reports the unit failed.
        if (unit && state.unhealthy.has(machine.name)) Object.assign(unit, { active: false, failed: true });
        const ok = unit?.active === true;
        return { code: ok ? 0 : 1, stdout: '', stderr: ok ? 'https://127.0.0.1:2379 is healthy: successfully committed proposal: took = 2ms\n' : 'unhealthy\n' };
      }
      if (rest.includes('list')) {
        if (!state.members) return { code: 1, stdout: '', stderr: 'context deadline exceeded\n' };
        if (state.started) {
          for (const m of state.members) if (m.name === '' && state.started(m.peerURLs[0]!)) m.name = `started-${m.peerURLs[0]}`;
        }
        return { code: 0, stdout: JSON.stringify({ header: { cluster_id: 1 }, members: state.members }), stderr: '' };
      }
      if (rest.includes('add')) {
        const name = rest[rest.indexOf('add') + 1]!;
        const peer = argv.find((a) => a.startsWith('--peer-urls='))!.slice('--peer-urls='.length);
        if (state.started && state.members?.some((m) => m.name === '' && !state.started!(m.peerURLs[0]!))) {
          return { code: 1, stdout: '', stderr: 'Error: etcdserver: unhealthy cluster\n' };
        }
        state.added.push([machine.name, name, peer]);
        state.members?.push({ name: '', peerURLs: [peer] });
        return { code: 0, stdout: `Member added to cluster\n`, stderr: '' };
      }
    }
    if (cmd?.endsWith('/kubectl')) {
      const raw = argv.find((a) => a.startsWith('--raw='))?.slice('--raw='.length) ?? '';
      const up = machine.units.get('kube-apiserver.service')?.active === true;
      if (!up) return { code: 1, stdout: '', stderr: 'The connection to the server 127.0.0.1:6443 was refused\n' };
      if (raw === '/healthz') return { code: 0, stdout: 'ok', stderr: '' };
      const component = /^\/api\/v1\/componentstatuses\/(.+)$/.exec(raw)?.[1];
      if (component) {
        const unit = component === 'scheduler' ? 'kube-scheduler.service' : 'kube-controller-manager.service';
        const healthy = machine.units.get(unit)?.active === true;
        return { code: 0, stdout: JSON.stringify({ kind: 'ComponentStatus', conditions: [{ type: 'Healthy', status: healthy ? 'True' : 'False' }] }), stderr: '' };
      }
    }
    return undefined;
  };
}
