import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFailures, preflightFailures, type HostDuties } from '../../../src/roles/preinstall/checks.js';
import { preinstallRole } from '../../../src/roles/preinstall/index.js';
import { parseProbe, POD_CGROUP, unitFromCgroup, type HostProbe } from '../../../src/roles/preinstall/probe.js';
import type { HostFacts } from '../../../src/engine/contract.js';
import type { RemoteHost } from '../../../src/ssh/types.js';
import { FakeFleet } from '../../../dev/fake-fleet.js';
import { runYaml, runYamlRefused } from '../engine/playbook-harness.js';
import { loadCluster } from './node-cluster.js';

const SS_HEADER = 'State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process';

function probeOutput(o: { listeners?: string[]; cgroups?: string[]; ipForward?: string; writable?: boolean; br?: string; http?: string; swaps?: string[] } = {}): string {
  return [
    `listen ${SS_HEADER}`,
    ...(o.listeners ?? ['LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=50,fd=3))']).map((l) => `listen ${l}`),
    ...(o.cgroups ?? ['cgroup 50 0::/system.slice/ssh.service']),
    `ip_forward ${o.ipForward ?? '1'}`,
    `ip_forward_writable ${o.writable === false ? 'no' : 'yes'}`,
    `br_netfilter ${o.br ?? 'loaded'}`,
    `http_client ${o.http ?? 'curl'}`,
    ...(o.swaps ?? []).map((s) => `swap ${s}`),
    '',
  ].join('\n');
}

function facts(over: Partial<HostFacts> = {}): HostFacts {
  return {
    hostname: 'node2',
    os: { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
    arch: 'x86_64',
    kernel: '6.1.0',
    cpus: 2,
    memoryMb: 4096,
    swapMb: 0,
    systemdVersion: 252,
    defaultIPv4: '10.0.0.12',
    ...over,
  };
}

const WORKER: HostDuties = { controlPlane: false, etcd: false, node: true };
const MASTER: HostDuties = { controlPlane: true, etcd: true, node: true };
const SETTINGS = { minMemoryMbControlPlane: 1500, minMemoryMbNode: 1024, apiserverPort: 6443 };

function check(probe: HostProbe, o: { facts?: Partial<HostFacts>; duties?: HostDuties; others?: Record<string, string> } = {}) {
  return preflightFailures({
    facts: facts(o.facts),
    probe,
    duties: o.duties ?? WORKER,
    settings: SETTINGS,
    otherHostnames: new Map(Object.entries(o.others ?? {})),
  });
}

test('the probe output is parsed: listeners with their process and systemd unit, forwarding, bridge netfilter, swap', () => {
  const p = parseProbe(
    probeOutput({
      listeners: [
        'LISTEN 0 4096 127.0.0.1:10248 0.0.0.0:* users:(("kubelet",pid=812,fd=20))',
        'LISTEN 0 4096 *:10250 *:* users:(("kubelet",pid=812,fd=21))',
        'LISTEN 0 5 [::]:10256 [::]:* users:(("python3",pid=4242,fd=3),("python3",pid=4243,fd=3))',
        'LISTEN 0 128 10.0.0.12%eth0:2379 0.0.0.0:*',
      ],
      cgroups: [
        'cgroup 812 12:pids:/system.slice/kubelet.service 1:name=systemd:/system.slice/kubelet.service 0::/system.slice/kubelet.service ',
        'cgroup 4242 0::/user.slice/user-0.slice/session-3.scope ',
        'cgroup 4243 ',
      ],
      ipForward: '0',
      writable: false,
      br: 'loadable',
      http: 'wget',
      swaps: ['/dev/sda2 partition 2097148 0 -2', '/swapfile file 1048572 0 -3'],
    }),
  );
  assert.deepEqual(
    p.listeners?.map((l) => `${l.port} ${l.processes.map((x) => `${x.name}/${x.pid}/${x.unit ?? '-'}`).join(',')}`),
    ['10248 kubelet/812/kubelet.service', '10250 kubelet/812/kubelet.service', '10256 python3/4242/-,python3/4243/-', '2379 '],
  );
  assert.deepEqual(p.ipForward, { value: '0', writable: false });
  assert.equal(p.brNetfilter, 'loadable');
  assert.equal(p.httpClient, 'wget');
  assert.deepEqual(p.swaps, [
    { device: '/dev/sda2', sizeMb: 2047 },
    { device: '/swapfile', sizeMb: 1023 },
  ]);
  const noSs = parseProbe(probeOutput().replace(/^listen .*\n/gm, '').replace(/^cgroup .*\n/gm, 'ss_missing\n'));
  assert.equal(noSs.listeners, undefined);
  assert.match(noSs.listenersError ?? '', /ss \(iproute2\) is not installed/);
  assert.throws(() => parseProbe('surprise 1\n'), /unexpected line/);
});

test('the unit of a process comes from its cgroup path, whatever the cgroup layout', () => {
  assert.equal(unitFromCgroup('0::/system.slice/etcd.service'), 'etcd.service');
  assert.equal(unitFromCgroup('1:name=systemd:/system.slice/kube-apiserver.service 0::/'), 'kube-apiserver.service');
  // A static pod's container: the kubelet's, not a service.
  assert.equal(unitFromCgroup('0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-ab.scope'), POD_CGROUP);
  assert.equal(unitFromCgroup('0::/user.slice/x.scope'), undefined);
  assert.equal(unitFromCgroup('0::/system.slice/containerd.service/sub'), 'containerd.service');
  assert.equal(unitFromCgroup(''), undefined);
});

test('a healthy host passes; a port held by the unit kprov runs there passes too', () => {
  assert.deepEqual(check(parseProbe(probeOutput())), []);
  const rerun = parseProbe(
    probeOutput({
      listeners: ['LISTEN 0 4096 *:10250 *:* users:(("kubelet",pid=812,fd=21))', 'LISTEN 0 4096 *:2379 *:* users:(("etcd",pid=90,fd=7))'],
      cgroups: ['cgroup 812 0::/system.slice/kubelet.service', 'cgroup 90 0::/system.slice/etcd.service'],
    }),
  );
  assert.deepEqual(check(rerun, { duties: MASTER, facts: { memoryMb: 2048 } }), []);
  // The control plane as static pods: its ports are held by pods' containers.
  const staticPods = parseProbe(
    probeOutput({
      listeners: ['LISTEN 0 4096 *:6443 *:* users:(("node",pid=1704,fd=21))', 'LISTEN 0 4096 127.0.0.1:10251 *:* users:(("node",pid=1698,fd=9))'],
      cgroups: ['cgroup 1704 0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-a.scope', 'cgroup 1698 0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod2.slice/cri-containerd-b.scope'],
    }),
  );
  assert.deepEqual(check(staticPods, { duties: MASTER, facts: { memoryMb: 2048 } }), []);
});

test('each failure kind says what was found and what is expected', () => {
  const cases: { name: string; probe?: Parameters<typeof probeOutput>[0]; facts?: Partial<HostFacts>; duties?: HostDuties; others?: Record<string, string>; want: RegExp }[] = [
    { name: 'systemd', facts: { systemdVersion: undefined }, want: /^systemd: found systemctl not found; expected systemd/ },
    { name: 'swap', probe: { swaps: ['/swapfile file 1048572 0 -2'] }, facts: { swapMb: 1023 }, want: /^swap: found swap is on: \/swapfile \(1023 MiB\); expected no active swap/ },
    {
      name: 'port',
      probe: { listeners: ['LISTEN 0 5 0.0.0.0:10250 0.0.0.0:* users:(("python3",pid=4242,fd=3))'], cgroups: ['cgroup 4242 0::/user.slice/session-1.scope'] },
      want: /^port 10250 \(kubelet API\): found in use by "python3" \(pid 4242, not a systemd service\) on 0\.0\.0\.0:10250; expected free, or held by kubelet\.service/,
    },
    {
      name: 'port held by another kprov unit',
      probe: { listeners: ['LISTEN 0 5 *:6443 *:* users:(("etcd",pid=90,fd=3))'], cgroups: ['cgroup 90 0::/system.slice/etcd.service'] },
      duties: MASTER,
      facts: { memoryMb: 2048 },
      want: /^port 6443 \(kube-apiserver\): found in use by "etcd" \(pid 90, etcd\.service\)/,
    },
    { name: 'memory (node)', facts: { memoryMb: 900 }, want: /^memory: found 900 MiB; expected at least 1024 MiB \(preflight_min_memory_mb_node\)/ },
    { name: 'memory (control plane)', facts: { memoryMb: 1400 }, duties: MASTER, want: /^memory: found 1400 MiB; expected at least 1500 MiB \(preflight_min_memory_mb_control_plane\)/ },
    { name: 'hostname', facts: { hostname: 'Debian' }, others: { node1: 'debian', node3: 'node3' }, want: /^hostname: found "Debian", also the hostname of node1; expected a hostname no other host/ },
    { name: 'ip_forward', probe: { ipForward: '0', writable: false }, want: /^net\.ipv4\.ip_forward: found 0, and \/proc\/sys\/net\/ipv4\/ip_forward is read-only; expected 1, or writable/ },
    { name: 'br_netfilter', probe: { br: 'missing' }, want: /^br_netfilter: found not loaded, not built in, and no module to load; expected bridge netfilter/ },
    { name: 'http client', probe: { http: 'none' }, want: /^http client: found neither curl nor wget/ },
    { name: 'ss', probe: { listeners: [] }, want: /^ports: found ss \(iproute2\) is not installed/ },
  ];
  for (const c of cases) {
    let out = probeOutput(c.probe);
    if (c.name === 'ss') out = out.replace(/^listen .*\n/gm, '').replace(/^cgroup .*\n/gm, 'ss_missing\n');
    const failures = check(parseProbe(out), { ...(c.facts ? { facts: c.facts } : {}), ...(c.duties ? { duties: c.duties } : {}), ...(c.others ? { others: c.others } : {}) });
    assert.equal(failures.length, 1, `${c.name}: ${JSON.stringify(failures)}`);
    const line = `${failures[0]!.check}: found ${failures[0]!.found}; expected ${failures[0]!.expected}`;
    assert.match(line, c.want, c.name);
  }
});

test('every failure of a host is reported together, one line each', () => {
  const probe = parseProbe(
    probeOutput({
      listeners: ['LISTEN 0 5 0.0.0.0:10250 0.0.0.0:* users:(("nc",pid=7,fd=3))', 'LISTEN 0 5 0.0.0.0:2380 0.0.0.0:* users:(("nc",pid=8,fd=3))'],
      cgroups: ['cgroup 7 0::/', 'cgroup 8 0::/'],
      ipForward: '0',
      writable: false,
      swaps: ['/dev/vda3 partition 524284 0 -2'],
    }),
  );
  const failures = check(probe, { duties: MASTER, facts: { memoryMb: 1000, swapMb: 511, hostname: 'node9' }, others: { node4: 'NODE9' } });
  assert.deepEqual(
    failures.map((f) => f.check),
    ['swap', 'port 2380 (etcd peer)', 'port 10250 (kubelet API)', 'memory', 'hostname', 'net.ipv4.ip_forward'],
  );
  const text = formatFailures(failures);
  assert.match(text, /^preflight: 6 checks failed\n {2}- swap: /);
  assert.equal(text.split('\n').length, 7);
  // Etcd-only hosts need neither the node ports nor swap off.
  assert.deepEqual(check(probe, { duties: { controlPlane: false, etcd: true, node: false }, facts: { swapMb: 511 } }).map((f) => f.check), ['port 2380 (etcd peer)']);
});

/** Fake hosts whose probe answers as given, with facts per host. */
function preflightFleet(names: string[], probes: Record<string, string>, hostFacts: Record<string, Partial<HostFacts>>) {
  const fleet = new FakeFleet(names);
  for (const n of names) {
    fleet.machine(n).script = (argv) => (argv[0] === 'sh' && argv[3] === 'kprov-preflight' ? { code: 0, stdout: probes[n] ?? probeOutput(), stderr: '' } : undefined);
  }
  const gatherFacts = async (host: RemoteHost) => {
    await host.exec(['true']);
    return facts({ hostname: host.name, ...hostFacts[host.name] });
  };
  return { fleet, gatherFacts };
}

const PLAY = `
- name: Facts and preflight checks
  hosts: k8s_cluster:etcd
  gather_facts: true
  roles: [preinstall]
`;

test('preinstall on fake hosts: each failing host gets one error with all its problems; the others pass; nothing is written', async () => {
  const c = await loadCluster();
  const { fleet, gatherFacts } = preflightFleet(
    ['node1', 'node2', 'node3'],
    {
      node3: probeOutput({
        listeners: ['LISTEN 0 5 0.0.0.0:10250 0.0.0.0:* users:(("python3",pid=4242,fd=3))'],
        cgroups: ['cgroup 4242 0::/'],
        ipForward: '0',
        writable: false,
      }),
    },
    { node1: { hostname: 'twin' }, node2: { hostname: 'twin' } },
  );
  const r = await runYaml(PLAY, { inventory: c.view, roles: [preinstallRole], fleet, run: c.run(), gatherFacts });
  assert.equal(r.result.status, 'failed');
  const finish = new Map(r.of('host:finish').map((e) => [e.host, e]));
  assert.match(finish.get('node1')!.error!.message, /hostname: found "twin", also the hostname of node2/);
  assert.match(finish.get('node2')!.error!.message, /hostname: found "twin", also the hostname of node1/);
  const node3 = finish.get('node3')!.error!.message;
  assert.match(node3, /^preflight: 2 checks failed/);
  assert.match(node3, /port 10250 \(kubelet API\): found in use by "python3" \(pid 4242/);
  assert.match(node3, /net\.ipv4\.ip_forward: found 0/);
  assert.match(finish.get('node3')!.error!.hint ?? '', /preflight changed nothing/);
  for (const m of fleet.machines.values()) {
    assert.deepEqual(m.mutatingCalls().filter((call) => call.argv?.[3] !== 'kprov-preflight'), []);
  }
});

test('preinstall: duplicate hostnames are caught without deadlock when hosts run one at a time', async () => {
  const c = await loadCluster();
  const { fleet, gatherFacts } = preflightFleet(['node1', 'node2', 'node3'], {}, { node1: { hostname: 'same' }, node3: { hostname: 'same' } });
  const started = Date.now();
  const r = await runYaml(PLAY, { inventory: c.view, roles: [preinstallRole], fleet, run: c.run(), gatherFacts, concurrency: 1 });
  assert.ok(Date.now() - started < 5_000);
  assert.equal(r.result.status, 'failed');
  const failed = r.of('host:finish').filter((e) => e.status === 'failed');
  assert.ok(failed.some((e) => e.host === 'node3' && /also the hostname of node1/.test(e.error!.message)), JSON.stringify(failed));
  assert.ok(!failed.some((e) => e.host === 'node2'));
});

test('preinstall: etcd as a static pod on a host that is no Kubernetes node is refused up front, naming the hosts', async () => {
  const ini = `[all]
${[1, 2, 3, 4].map((i) => `node${i} ansible_host=10.0.0.1${i} ip=10.0.0.1${i}`).join('\n')}

[kube_control_plane]
node1

[etcd]
node1
node4

[kube_node]
node2
node3

[k8s_cluster:children]
kube_control_plane
kube_node
`;
  const c = await loadCluster(ini, { etcd_deployment_type: 'static_pod' });
  const { fleet, gatherFacts } = preflightFleet(['node1', 'node2', 'node3', 'node4'], {}, {});
  const r = await runYamlRefused(PLAY, { inventory: c.view, roles: [preinstallRole], fleet, run: c.run(), gatherFacts });
  assert.equal(r.error.exitCode, 2, 'bad input');
  assert.match(r.error.message, /^etcd_deployment_type: static_pod runs etcd under the kubelet, but node4 is in etcd and not in k8s_cluster/);
  assert.equal(fleet.connects.size, 0, 'no host was contacted');
});
