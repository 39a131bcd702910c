/**
 * `kprov lab` end to end: one 3-host lab shared by the tests in this file, taken down by the
 * last test (and by `after` whatever happens).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../support/run-cli.js';
import { kprovBin, startLab, type RunningLab } from '../../dev/lab-hosts.js';
import { assertResourcesGone, labResources, labSkipReason } from '../support/lab.js';
import { runCommand } from '../../dev/run-command.js';
import { mountsUnder } from '../../src/lab/mounts.js';
import { labDir } from '../../src/lab/paths.js';
import { labDown } from '../../src/lab/down.js';
import { readLabState } from '../../src/lab/state.js';
import { cgroupHierarchies } from '../../src/lab/cgroups.js';
import { packageRoot } from '../../src/paths.js';

const NAME = 'e2e-lab';
const skip = labSkipReason();

describe('kprov lab', { skip, concurrency: false }, () => {
  let lab: RunningLab;

  before(async () => {
    lab = await startLab({ name: NAME, hosts: 3 });
  });

  after(async () => {
    await lab?.stop();
  });

  test('writes an inventory made by the same code as kprov init --hosts', async () => {
    const ini = await readFile(path.join(lab.inventoryDir, 'inventory.ini'), 'utf8');
    assert.match(ini, /^# Written by kprov init --hosts 10\.213\.0\.11,10\.213\.0\.12,10\.213\.0\.13$/m);
    assert.match(ini, /^node3 ansible_host=10\.213\.0\.13 ip=10\.213\.0\.13 /m);
    const labJson = JSON.parse(await readFile(path.join(lab.inventoryDir, 'lab.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(labJson['namespace'], `kprov-${NAME}`);
    assert.equal(labJson['bridgeAddress'], '10.213.0.1');
    assert.equal(labJson['mirrorUrl'], 'http://10.213.0.1:8080/');
    assert.equal(labJson['registryUrl'], 'http://10.213.0.1:5000');
    const labYml = await readFile(path.join(lab.inventoryDir, 'group_vars/all/lab.yml'), 'utf8');
    assert.match(labYml, /^ansible_user: root$/m);
    assert.match(labYml, /^containerd_registries:\n {2}docker\.io:\n {4}- http:\/\/10\.213\.0\.1:5000$/m);
    assert.match(labYml, /^containerd_restrict_oom_score_adj: true$/m);
    const pw = await stat(lab.passwordFile);
    assert.equal(pw.mode & 0o777, 0o600);
    assert.match((await readFile(lab.passwordFile, 'utf8')).trim(), /^[A-Za-z0-9_-]{24}$/);
  });

  test('sshd answers inside the lab namespace; the root namespace has no way in and the lab no way out', async () => {
    for (const address of lab.addresses) {
      const probe = await lab.inLab([
        process.execPath,
        '-e',
        `const s=require('net').connect(22,'${address}');s.setTimeout(5000,()=>process.exit(3));s.once('data',d=>{process.stdout.write(d.toString().split('\\r')[0]);process.exit(0)});s.on('error',e=>{console.error(e.message);process.exit(2)})`,
      ]);
      assert.equal(probe.code, 0, probe.stderr);
      assert.match(probe.stdout, /^SSH-2\.0-OpenSSH/);
    }
    // Never send to a lab address from the root namespace: show instead that nothing there
    // leads to the lab (no address, no route, no interface of the lab's).
    const rootAddrs = await runCommand(['ip', '-o', 'addr', 'show']);
    assert.doesNotMatch(rootAddrs.stdout, /10\.213\.0\./);
    const rootRoutes = await runCommand(['ip', 'route', 'show']);
    assert.doesNotMatch(rootRoutes.stdout, /10\.213\.0\./);
    const rootLinks = await runCommand(['ip', '-o', 'link', 'show']);
    assert.doesNotMatch(rootLinks.stdout, /kprov-br0|veth-node/);
    // The lab namespace has no default route: a route lookup outward fails without sending anything.
    const defaultRoute = await runCommand(['ip', '-n', lab.namespace, 'route', 'show', 'default']);
    assert.equal(defaultRoute.stdout.trim(), '');
    const lookup = await runCommand(['ip', '-n', lab.namespace, 'route', 'get', '192.0.2.1']);
    assert.notEqual(lookup.code, 0);
    assert.match(lookup.stderr, /unreachable/i);
    const forwarding = await lab.inLab(['sysctl', '-n', 'net.ipv4.ip_forward']);
    assert.equal(forwarding.stdout.trim(), '0');
  });

  test('every host runs systemd as PID 1, fully booted, with its own name', async () => {
    for (const host of lab.hosts) {
      const r = await lab.exec(host.name, ['sh', '-c', 'systemctl is-system-running; hostname; cat /proc/1/comm; grep -c nameserver /etc/resolv.conf']);
      assert.deepEqual(r.stdout.trim().split('\n'), ['running', host.name, 'systemd', '0'], 'no name server outside the lab');
    }
  });

  test('every host has cgroups of its own in every hierarchy (shared ones make units fail at random)', async () => {
    const state = await readLabState(NAME);
    const hierarchies = cgroupHierarchies(await readFile('/proc/self/mountinfo', 'utf8'));
    assert.equal(state?.cgroups.length, hierarchies.length);
    const seen = new Set<string>();
    for (const host of state?.hosts ?? []) {
      const cgroup = await readFile(`/proc/${host.leader?.pid}/cgroup`, 'utf8');
      const systemdLine = cgroup.split('\n').find((l) => l.startsWith('0::')) ?? '';
      assert.match(systemdLine, new RegExp(`^0::/kprov-lab/${NAME}/${host.name}/payload/`));
      seen.add(systemdLine);
      // nspawn itself is in the host's cgroup of every hierarchy (in systemd's, nspawn keeps to
      // supervisor/ and puts the host's init in payload/).
      const nspawnCgroups = (await readFile(`/proc/${host.nspawn?.pid}/cgroup`, 'utf8')).trim().split('\n');
      assert.equal(nspawnCgroups.length, hierarchies.length);
      for (const line of nspawnCgroups) assert.match(line, new RegExp(`/kprov-lab/${NAME}/${host.name}(?:/supervisor)?$`), line);
    }
    assert.equal(seen.size, 3);
  });

  test('root logs in with the bootstrap password; host keys are distinct; no key is authorized', async () => {
    const password = (await readFile(lab.passwordFile, 'utf8')).trim();
    const fingerprints = new Set<string>();
    for (const host of lab.hosts) {
      const r = await lab.sshExec({ address: host.address, password, command: 'id -un; hostname; cat /root/.ssh/authorized_keys 2>/dev/null | wc -l' });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['root', host.name, '0']);
      fingerprints.add(r.hostKeySha256);
      const pub = await lab.exec(host.name, ['cat', '/etc/ssh/ssh_host_ed25519_key.pub']);
      assert.match(pub.stdout, /^ssh-ed25519 /);
    }
    assert.equal(fingerprints.size, lab.hosts.length, 'each host presents its own host key');
    const keys = await Promise.all(lab.hosts.map((h) => lab.exec(h.name, ['cat', '/etc/ssh/ssh_host_ed25519_key.pub', '/etc/machine-id'])));
    assert.equal(new Set(keys.map((k) => k.stdout)).size, lab.hosts.length);
    await assert.rejects(lab.sshExec({ address: lab.addresses[0]!, password: 'wrong-password', command: 'true' }), /authentication/i);
  });

  test('the unprivileged kprov user logs in with the same password and has passwordless sudo', async () => {
    const password = (await readFile(lab.passwordFile, 'utf8')).trim();
    const r = await lab.sshExec({ address: lab.addresses[1]!, username: 'kprov', password, command: 'id -un; sudo -n id -u' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['kprov', '0']);
  });

  test('the artifact mirror serves its directory to the hosts, read-only, nothing outside it', async () => {
    await mkdir(path.join(lab.mirrorRoot, 'v1'), { recursive: true });
    await writeFile(path.join(lab.mirrorRoot, 'v1', 'hello.txt'), 'hello from the mirror\n');
    const get = await lab.exec('node1', ['curl', '-fsS', `${lab.mirrorUrl}v1/hello.txt`]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, 'hello from the mirror');
    const head = await lab.exec('node2', ['curl', '-sSI', `${lab.mirrorUrl}v1/hello.txt`]);
    assert.match(head.stdout, /^HTTP\/1\.1 200/);
    assert.match(head.stdout, /content-length: 22/i);
    const missing = await lab.exec('node3', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `${lab.mirrorUrl}v1/nope`]);
    assert.equal(missing.stdout, '404');
    const traversal = await lab.exec('node3', ['curl', '-s', '--path-as-is', '-o', '/dev/null', '-w', '%{http_code}', `${lab.mirrorUrl}../../etc/passwd`]);
    assert.equal(traversal.stdout, '404');
    const put = await lab.exec('node3', ['curl', '-s', '-X', 'PUT', '-d', 'x', '-o', '/dev/null', '-w', '%{http_code}', `${lab.mirrorUrl}v1/hello.txt`]);
    assert.equal(put.stdout, '405');
  });

  test('the image registry answers the hosts on the bridge address, and listens nowhere else', async () => {
    const r = await lab.exec('node2', ['curl', '-fsS', '-D', '-', `${lab.registryUrl}/v2/`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^docker-distribution-api-version: registry\/2\.0\r?$/im);
    const listeners = await lab.inLab(['ss', '-Hltn', 'sport = :5000']);
    assert.deepEqual(listeners.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/)[3]), ['10.213.0.1:5000']);
    const state = await readLabState(NAME);
    assert.match(await readFile(state!.registry!.config, 'utf8'), /^ {2}addr: 10\.213\.0\.1:5000$/m);
  });

  test('lab status --json reports the lab, its hosts, mirror and registry as running', async () => {
    const r = await runCli(['lab', 'status', '--json', '--name', NAME], { env: process.env });
    assert.equal(r.code, 0, r.stderr);
    const [status] = JSON.parse(r.stdout) as {
      name: string;
      phase: string;
      namespaceExists: boolean;
      hosts: { name: string; address: string; running: boolean }[];
      mirror: { running: boolean; url: string };
      registry: { running: boolean; url: string };
    }[];
    assert.equal(status?.name, NAME);
    assert.equal(status?.phase, 'ready');
    assert.equal(status?.namespaceExists, true);
    assert.deepEqual(
      status?.hosts.map((h) => [h.name, h.address, h.running]),
      [
        ['node1', '10.213.0.11', true],
        ['node2', '10.213.0.12', true],
        ['node3', '10.213.0.13', true],
      ],
    );
    assert.equal(status?.mirror.running, true);
    assert.deepEqual([status?.registry.url, status?.registry.running], ['http://10.213.0.1:5000', true]);
    const text = await runCli(['lab', 'status'], { env: process.env });
    assert.match(text.stdout, new RegExp(`^${NAME}: ready, 3/3 hosts running`, 'm'));
  });

  test('lab exec runs a command inside a host and passes its exit status on', async () => {
    const ok = await runCli(['lab', 'exec', '--name', NAME, 'node2', '--', 'sh', '-c', 'hostname; ip -4 -o addr show eth0'], { env: process.env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^node2\n.*inet 10\.213\.0\.12\/24/);
    const byAddress = await runCli(['lab', 'exec', '--name', NAME, '10.213.0.13', '--', 'hostname'], { env: process.env });
    assert.equal(byAddress.stdout.trim(), 'node3');
    const failing = await runCli(['lab', 'exec', '--name', NAME, 'node1', '--', 'sh', '-c', 'echo oops >&2; exit 7'], { env: process.env });
    assert.equal(failing.code, 7);
    assert.equal(failing.stderr.trim(), 'oops');
    const unknown = await runCli(['lab', 'exec', '--name', NAME, 'node9', '--', 'true'], { env: process.env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^error: lab "e2e-lab" has no host node9\n {2}its hosts: node1, node2, node3\n$/);
  });

  test('a kprov command given the lab inventory re-executes itself inside the lab namespace', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kprov-reexec-'));
    try {
      const script = path.join(dir, 'reexec.mjs');
      await writeFile(
        script,
        `import { readlinkSync } from 'node:fs';
import { runInLabNamespaceIfNeeded } from ${JSON.stringify(path.join(packageRoot, 'dist/src/lab/netns.js'))};
const code = await runInLabNamespaceIfNeeded(process.argv[2], process.argv.slice(2));
if (code === undefined) console.log('inside ' + readlinkSync('/proc/self/ns/net') + ' ' + process.argv.slice(3).join(' '));
else process.exitCode = code === 0 ? 42 : code;
`,
      );
      const r = await runCommand([process.execPath, script, lab.inventoryDir, 'a b', 'c']);
      const labNs = await runCommand(['ip', 'netns', 'exec', lab.namespace, 'readlink', '/proc/self/ns/net']);
      assert.equal(r.code, 42, r.stderr);
      assert.equal(r.stdout.trim(), `inside ${labNs.stdout.trim()} a b c`);
      const plain = await runCommand([process.execPath, script, dir]);
      assert.equal(plain.code, 0);
      assert.match(plain.stdout, /^inside net:\[\d+\] $/m);
      // The way an in-process CLI (or any other script) hands over to the real kprov CLI.
      const cli = path.join(dir, 'cli.mjs');
      await writeFile(
        cli,
        `import { runInLabNamespaceIfNeeded } from ${JSON.stringify(path.join(packageRoot, 'dist/src/lab/netns.js'))};
process.exitCode = await runInLabNamespaceIfNeeded(process.argv[2], ['lab', 'status', '--name', ${JSON.stringify(NAME)}], ${JSON.stringify(kprovBin)});
`,
      );
      const status = await runCommand([process.execPath, cli, lab.inventoryDir]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^e2e-lab: ready, 3\/3 hosts running/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a second lab up with the same name is refused and changes nothing', async () => {
    const before = await labResources(NAME);
    const r = await runCli(['lab', 'up', '--name', NAME, '--hosts', '1', '--inventory', path.join(tmpdir(), 'kprov-unused')], { env: process.env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: a lab named "e2e-lab" already exists\n.*kprov lab down --name e2e-lab/);
    assert.deepEqual(await labResources(NAME), before);
    await assert.rejects(stat(path.join(tmpdir(), 'kprov-unused')));
  });

  test('lab down removes every process, mount, namespace and link; a second down is a no-op', async () => {
    const resources = await labResources(NAME);
    assert.equal(resources.pids.length, 2 + 2 * 3, 'mirror, registry + nspawn and init per host');
    const dir = labDir(NAME);
    const down = await runCli(['lab', 'down', '--name', NAME], { env: process.env });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /^Lab e2e-lab removed\.$/m);
    await assertResourcesGone(resources);
    assert.deepEqual(await mountsUnder(dir), []);
    await assert.rejects(stat(dir));
    const links = await runCommand(['ip', '-o', 'link', 'show']);
    assert.doesNotMatch(links.stdout, /veth-node|kprov-br0/);
    assert.ok(resources.cgroups.length > 0);
    for (const h of cgroupHierarchies(await readFile('/proc/self/mountinfo', 'utf8'))) {
      await assert.rejects(stat(path.join(h.mountPoint, 'kprov-lab', NAME)), `no cgroup is left in ${h.mountPoint}`);
    }
    const again = await runCli(['lab', 'down', '--name', NAME], { env: process.env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to remove/);
    assert.deepEqual(await labDown(NAME), { existed: false, hosts: 0 });
  });
});
