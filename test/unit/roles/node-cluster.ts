/**
 * Shared setup for the preinstall, runtime, cni and node role tests: a real inventory loaded from
 * a temporary directory (so topology, defaults and validation are the product's own), an artifact
 * index over small local files, and fake hosts that answer the commands these roles run.
 */
import { after } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CNI_BIN_DIR } from '../../../src/artifacts/catalogue.js';
import type { ArtifactFile } from '../../../src/artifacts/download.js';
import type { ArtifactId } from '../../../src/artifacts/ids.js';
import type { ArtifactIndex } from '../../../src/cluster/artifact-index.js';
import { loadInventory, type Inventory } from '../../../src/inventory/load.js';
import type { InventoryView } from '../../../src/engine/contract.js';
import { createClusterRun, type ClusterRun } from '../../../src/cluster/run.js';
import type { ExecResult } from '../../../src/ssh/types.js';
import { FakeFleet, type FakeMachine } from '../../../dev/fake-fleet.js';

const made: string[] = [];
after(async () => {
  await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** node1 control plane + etcd, node2 and node3 workers, on 10.0.0.0/24. */
export const THREE_NODES = `[all]
node1 ansible_host=10.0.0.11 ip=10.0.0.11
node2 ansible_host=10.0.0.12 ip=10.0.0.12
node3 ansible_host=10.0.0.13 ip=10.0.0.13

[kube_control_plane]
node1

[etcd]
node1

[kube_node]
node2
node3

[k8s_cluster:children]
kube_control_plane
kube_node
`;

export interface TestCluster {
  inventory: Inventory;
  view: InventoryView;
  /** What the next run's artifact index is (tests swap it to "upgrade" an artifact). */
  artifacts?: Promise<ArtifactIndex>;
  /** A run context over this inventory and `artifacts`: one per playbook run, as kprov makes them. */
  run(options?: { dryRun?: boolean }): ClusterRun;
}

/** Loads `ini` (+ group_vars/all/all.yml from `groupVars`) as kprov would. */
export async function loadCluster(ini = THREE_NODES, groupVars: Record<string, unknown> = {}): Promise<TestCluster> {
  const dir = await tempDir('kprov-roles-inv-');
  await writeFile(path.join(dir, 'inventory.ini'), ini);
  await mkdir(path.join(dir, 'group_vars', 'all'), { recursive: true });
  const lines = Object.entries(groupVars).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
  await writeFile(path.join(dir, 'group_vars', 'all', 'all.yml'), `${lines.join('\n')}\n`);
  const inventory = await loadInventory(dir);
  const cluster: TestCluster = {
    inventory,
    view: { dir: inventory.dir, hosts: inventory.hosts, groups: inventory.groups },
    run: (options = {}) =>
      createClusterRun(cluster.inventory, { dryRun: options.dryRun ?? false }, {
        artifacts: () => cluster.artifacts ?? Promise.reject(new Error('this test gave the run no artifacts')),
      }),
  };
  return cluster;
}

/** What each artifact installs in these tests (names as the catalogue installs them). */
export function artifactLayout(binDir = '/usr/local/bin'): Record<ArtifactId, string[]> {
  return {
    'kube-apiserver': [`${binDir}/kube-apiserver`],
    'kube-controller-manager': [`${binDir}/kube-controller-manager`],
    'kube-scheduler': [`${binDir}/kube-scheduler`],
    kubelet: [`${binDir}/kubelet`],
    'kube-proxy': [`${binDir}/kube-proxy`],
    kubectl: [`${binDir}/kubectl`],
    etcd: [`${binDir}/etcd`, `${binDir}/etcdctl`],
    containerd: [`${binDir}/containerd`, `${binDir}/containerd-shim-runc-v2`, `${binDir}/ctr`],
    runc: [`${binDir}/runc`],
    cni: ['bridge', 'host-local', 'loopback', 'portmap', 'tuning'].map((p) => `${CNI_BIN_DIR}/${p}`),
  };
}

/**
 * An artifact index over small local files (content = the install path and `version`), so a
 * test can "upgrade" an artifact by changing `version`. Every host gets every artifact.
 */
export async function fakeArtifacts(
  options: { version?: string; versions?: Partial<Record<ArtifactId, string>>; layout?: Record<ArtifactId, string[]>; warnings?: Record<string, string[]> } = {},
): Promise<ArtifactIndex> {
  const dir = await tempDir('kprov-roles-art-');
  const files = new Map<ArtifactId, ArtifactFile[]>();
  for (const [id, paths] of Object.entries(options.layout ?? artifactLayout()) as [ArtifactId, string[]][]) {
    const list: ArtifactFile[] = [];
    const version = options.versions?.[id] ?? options.version ?? '1';
    for (const installPath of paths) {
      const content = Buffer.from(`#!/bin/sh\n# ${installPath} version ${version}\n`);
      const cachePath = path.join(dir, createHash('sha256').update(content).digest('hex').slice(0, 16));
      await writeFile(cachePath, content);
      list.push({
        name: path.posix.basename(installPath),
        installPath,
        mode: 0o755,
        sha256: createHash('sha256').update(content).digest('hex'),
        size: content.length,
        cachePath,
      });
    }
    files.set(id, list);
  }
  return {
    filesFor: (_host, id) => files.get(id) ?? [],
    warningsFor: (host) => options.warnings?.[host] ?? [],
  };
}

const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });

/** Routes as `ip -o route show` prints them, kept per machine. */
export class FakeRoutes {
  readonly lines: string[] = ['10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.11'];
}

/**
 * Fake machines that also answer `ctr version`, `ip route`, the bridge-netfilter probe and
 * `sysctl -n` for the keys these roles read, like a Debian host with br_netfilter loaded.
 */
export function nodeFleet(names: readonly string[]): { fleet: FakeFleet; routes: Map<string, FakeRoutes> } {
  const fleet = new FakeFleet(names);
  const routes = new Map<string, FakeRoutes>();
  for (const name of names) {
    const m = fleet.machine(name);
    const table = new FakeRoutes();
    routes.set(name, table);
    m.mkdirs('/proc/sys/net/bridge');
    m.sysctls.set('net.ipv4.ip_forward', '0');
    m.sysctls.set('net.bridge.bridge-nf-call-iptables', '1');
    m.sysctls.set('net.bridge.bridge-nf-call-ip6tables', '1');
    m.script = (argv, machine) => scriptedCommand(argv, machine, table);
  }
  return { fleet, routes };
}

function scriptedCommand(argv: readonly string[], machine: FakeMachine, table: FakeRoutes): ExecResult | undefined {
  const [cmd, ...args] = argv;
  if (cmd?.endsWith('/ctr') && args.at(-1) === 'version') {
    const up = machine.units.get('containerd.service')?.active === true;
    return up ? ok('Client:\n  Version: 1.6.20\nServer:\n  Version: 1.6.20\n') : { code: 1, stdout: '', stderr: 'ctr: failed to dial "/run/containerd/containerd.sock": connection refused' };
  }
  if (cmd === 'sh' && args[2] === 'kprov-stat-many') {
    const lines = args.slice(3).map((p) => {
      const f = machine.files.get(p);
      if (f) return `regular file|${f.mode.toString(8)}|${f.owner}|${f.group}|${createHash('sha256').update(f.content).digest('hex')}`;
      const d = machine.dirs.get(p);
      return d ? `directory|${d.mode.toString(8)}|${d.owner}|${d.group}|-` : 'missing';
    });
    return ok(`${lines.join('\n')}\n`);
  }
  if (cmd === 'sh' && args[2] === 'kprov-http-get') {
    // The node components' healthz: answered while their unit is active.
    const port = /:(\d+)\//.exec(args[3] ?? '')?.[1];
    const unit = port === '10248' ? 'kubelet.service' : port === '10256' ? 'kube-proxy.service' : undefined;
    return unit && machine.units.get(unit)?.active ? ok() : { code: 7, stdout: '', stderr: 'curl: (7) Failed to connect' };
  }
  if (cmd === 'sh' && args[2] === 'kprov-routes') {
    return ok(`${table.lines.join('\n')}\n--- inet6\n`);
  }
  if (cmd === 'ip' && args[1] === 'route') {
    const [, , verb, dst, ...rest] = args;
    const idx = table.lines.findIndex((l) => l.split(' ')[0] === dst);
    if (verb === 'replace') {
      const via = rest[rest.indexOf('via') + 1];
      const proto = rest[rest.indexOf('proto') + 1];
      const line = `${dst} via ${via} dev eth0 proto ${proto}`;
      if (idx >= 0) table.lines[idx] = line;
      else table.lines.push(line);
      return ok();
    }
    if (verb === 'del') {
      if (idx < 0) return { code: 2, stdout: '', stderr: 'RTNETLINK answers: No such process' };
      table.lines.splice(idx, 1);
      return ok();
    }
  }
  return undefined;
}
