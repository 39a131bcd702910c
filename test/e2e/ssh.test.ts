/**
 * The SSH layer against real lab hosts (systemd + OpenSSH sshd in systemd-nspawn). The test stays
 * in the root namespace; everything that talks to a host runs inside the lab namespace, as a
 * scenario process (test/e2e/scenarios/ssh-scenarios.ts) that prints one JSON result.
 * The tests share one 3-host lab and run in order: later ones build on earlier ones.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labSkipReason } from '../support/lab.js';
import { runCommand } from '../../dev/run-command.js';
import { startLab, type RunningLab } from '../../dev/lab-hosts.js';

const NAME = 'e2e-ssh';
const skip = labSkipReason();
const scenarioScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios', 'ssh-scenarios.js');

interface ErrorReport {
  message: string;
  hint?: string;
  host?: string;
  code?: string;
}
interface HostOutcome {
  host: string;
  ok?: boolean;
  ms?: number;
  method?: string;
  user?: string;
  appended?: boolean;
  alreadyAccepted?: boolean;
  sshConnection?: string;
  error?: ErrorReport;
  [key: string]: unknown;
}
interface Event {
  type: string;
  host?: string;
  name?: string;
  fingerprint?: string;
  method?: string;
}
interface RunReport {
  ms: number;
  hosts: HostOutcome[];
  handshakes: Record<string, number>;
  events: Event[];
}

describe('SSH layer on lab hosts', { skip, concurrency: false }, () => {
  let lab: RunningLab;
  let password: string;
  let work: string;
  /** Every scenario's raw output, to prove no password ever shows up in it. */
  const transcripts: string[] = [];

  async function scenario<T>(name: string, inventoryDir: string, extra: Record<string, unknown> = {}): Promise<T> {
    const r = await lab.inLab([process.execPath, scenarioScript], {
      input: JSON.stringify({ scenario: name, inventoryDir, ...extra }),
      timeoutMs: 120_000,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    });
    transcripts.push(r.stdout, r.stderr);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    let parsed: T & { scenarioError?: ErrorReport };
    try {
      parsed = JSON.parse(line) as T & { scenarioError?: ErrorReport };
    } catch {
      throw new Error(`scenario ${name} printed no JSON (exit ${r.code}): ${r.stderr.trim()}`);
    }
    assert.equal(parsed.scenarioError, undefined, `scenario ${name}: ${JSON.stringify(parsed.scenarioError)}`);
    return parsed;
  }

  const byHost = (report: { hosts: HostOutcome[] }, host: string): HostOutcome => {
    const found = report.hosts.find((h) => h.host === host);
    assert.ok(found, `no outcome for ${host}`);
    return found;
  };

  async function onHost(host: string, cmd: string[]): Promise<string> {
    const r = await lab.exec(host, cmd);
    assert.equal(r.code, 0, `${host}: ${cmd.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  }

  async function hostKeyFingerprint(host: string): Promise<string> {
    const out = await onHost(host, ['ssh-keygen', '-l', '-E', 'sha256', '-f', '/etc/ssh/ssh_host_ed25519_key.pub']);
    return /(SHA256:\S+)/.exec(out)![1]!;
  }

  /** A copy of the lab's inventory with changes, sharing nothing with the original afterwards. */
  async function inventoryVariant(name: string, change: (dir: string) => Promise<void>): Promise<string> {
    const dir = path.join(work, name);
    await cp(lab.inventoryDir, dir, { recursive: true });
    await change(dir);
    return dir;
  }

  before(async () => {
    lab = await startLab({ name: NAME, hosts: 3 });
    password = (await readFile(lab.passwordFile, 'utf8')).trim();
    work = await mkdtemp(path.join(tmpdir(), 'kprov-e2e-ssh-'));
  });

  after(async () => {
    await lab?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('key distribution: password login, key appended once (0700/0600), then key login', async () => {
    const r = await scenario<RunReport>('distribute', lab.inventoryDir);
    for (const h of lab.hosts) {
      const o = byHost(r, h.name);
      assert.equal(o.error, undefined, JSON.stringify(o.error));
      assert.equal(o.appended, true);
      assert.equal(o.method, 'cluster-key', 'the run continues on a key-authenticated connection');
      assert.equal(o.user, 'root');
      // The bootstrap (password) login, then the proving key-only login that the run keeps.
      assert.equal(r.handshakes[h.name], 2);
      const pinned = r.events.find((e) => e.type === 'ssh.hostkey.pinned' && e.host === h.name);
      assert.equal(pinned?.fingerprint, await hostKeyFingerprint(h.name), 'TOFU reports the real host key fingerprint');
      assert.equal(pinned?.name, h.address);
      assert.ok(r.events.some((e) => e.type === 'ssh.connected' && e.host === h.name && e.method === 'password'));
      assert.equal(await onHost(h.name, ['stat', '-c', '%a %U', '/root/.ssh', '/root/.ssh/authorized_keys']), '700 root\n600 root');
    }
    const key = path.join(lab.inventoryDir, 'credentials', 'id_ed25519');
    assert.equal((await stat(key)).mode & 0o777, 0o600);
    const body = (await readFile(`${key}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
    for (const h of lab.hosts) {
      const lines = (await onHost(h.name, ['cat', '/root/.ssh/authorized_keys'])).split('\n');
      assert.equal(lines.filter((l) => l.includes(body)).length, 1, `${h.name}: the key is authorized exactly once`);
    }
  });

  test('a second run changes nothing: one key login per host, authorized_keys byte-identical', async () => {
    const hash = (host: string) => onHost(host, ['sha256sum', '/root/.ssh/authorized_keys']);
    const before = await Promise.all(lab.hosts.map((h) => hash(h.name)));
    const r = await scenario<RunReport>('distribute', lab.inventoryDir);
    for (const h of lab.hosts) {
      const o = byHost(r, h.name);
      assert.equal(o.alreadyAccepted, true);
      assert.equal(o.appended, false);
      assert.equal(o.method, 'cluster-key');
      assert.equal(r.handshakes[h.name], 1, 'one SSH handshake per host per run');
    }
    assert.ok(!r.events.some((e) => e.type === 'ssh.hostkey.pinned'), 'nothing new to pin');
    assert.deepEqual(await Promise.all(lab.hosts.map((h) => hash(h.name))), before);
  });

  test('the OpenSSH client trusts the pinned host keys and the cluster key', async () => {
    const knownHosts = path.join(lab.inventoryDir, 'known_hosts');
    const key = path.join(lab.inventoryDir, 'credentials', 'id_ed25519');
    const ssh = (address: string, userKnownHosts: string) =>
      lab.inLab([
        'ssh',
        '-F', '/dev/null',
        '-o', 'BatchMode=yes',
        '-o', `UserKnownHostsFile=${userKnownHosts}`,
        '-o', 'GlobalKnownHostsFile=/dev/null',
        '-o', 'StrictHostKeyChecking=yes',
        '-o', 'IdentitiesOnly=yes',
        '-o', 'ConnectTimeout=10',
        '-i', key,
        `root@${address}`,
        'hostname',
      ]);
    for (const h of lab.hosts) {
      const r = await ssh(h.address, knownHosts);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), h.name);
    }
    // Control: the same command with no pinned keys is refused, so the check above was real.
    const empty = path.join(work, 'empty_known_hosts');
    await writeFile(empty, '');
    const refused = await ssh(lab.hosts[0]!.address, empty);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Host key verification failed/);
  });

  test('facts in one round trip', async () => {
    const r = await scenario<{ hosts: Array<{ host: string; facts: Record<string, unknown> & { os: Record<string, string> } }> }>(
      'facts',
      lab.inventoryDir,
    );
    for (const h of lab.hosts) {
      const f = r.hosts.find((x) => x.host === h.name)!.facts;
      assert.equal(f['hostname'], h.name);
      assert.equal(f.os['id'], 'debian');
      assert.equal(f.os['versionId'], '12');
      assert.equal(f['arch'], (await runCommand(['uname', '-m'])).stdout.trim());
      assert.ok((f['systemdVersion'] as number) >= 252);
      assert.ok((f['cpus'] as number) >= 1 && (f['memoryMb'] as number) > 0);
      assert.equal(f['defaultIPv4'], h.address);
    }
  });

  test('the ssh-keys and facts roles through the engine: plan touches nothing, apply authorizes, re-apply is a no-op', async () => {
    // A new cluster key that no host accepts yet; the hosts are reached with the bootstrap password.
    const dir = await inventoryVariant('roles', async (d) => {
      await rm(path.join(d, 'credentials', 'id_ed25519'));
      await rm(path.join(d, 'credentials', 'id_ed25519.pub'));
    });
    const hash = () => Promise.all(lab.hosts.map((h) => onHost(h.name, ['sha256sum', '/root/.ssh/authorized_keys'])));
    interface RolesReport {
      status: string;
      recap: Array<{ host: string; changed: number; failed: number }>;
      changes: Array<{ host: string; summary: string }>;
      failures: unknown[];
      handshakes: Record<string, number>;
    }
    const before = await hash();
    const plan = await scenario<RolesReport>('roles', dir, { dryRun: true });
    assert.equal(plan.status, 'ok', JSON.stringify(plan.failures));
    assert.equal(plan.changes.length, 3);
    for (const c of plan.changes) assert.match(c.summary, /authorize the cluster key credentials\/id_ed25519 \(to be created\) in root's/);
    assert.deepEqual(await hash(), before, 'a plan leaves every authorized_keys byte-identical');
    await assert.rejects(stat(path.join(dir, 'credentials', 'id_ed25519')), 'a plan creates no key');

    const apply = await scenario<RolesReport>('roles', dir);
    assert.equal(apply.status, 'ok', JSON.stringify(apply.failures));
    assert.ok(apply.recap.every((r) => r.changed === 1 && r.failed === 0));
    assert.deepEqual(apply.handshakes, { node1: 2, node2: 2, node3: 2 });
    const body = (await readFile(path.join(dir, 'credentials', 'id_ed25519.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
    for (const h of lab.hosts) assert.ok((await onHost(h.name, ['cat', '/root/.ssh/authorized_keys'])).includes(body));

    const again = await scenario<RolesReport>('roles', dir);
    assert.equal(again.status, 'ok');
    assert.equal(again.changes.length, 0);
    assert.deepEqual(again.handshakes, { node1: 1, node2: 1, node3: 1 });
  });

  test('writeFile: atomic, owned, skipped when equal; uploadFile streams; run() reports failures', async () => {
    const r = await scenario<Record<string, any>>('files', lab.inventoryDir);
    assert.equal(r['firstWrite'], true);
    assert.equal(r['secondWrite'], false, 'same content, mode and owner: nothing written');
    assert.equal(r['bytesAfterSecond'], 0);
    assert.equal(r['modeOnlyWrite'], true);
    assert.equal(r['bytesAfterModeOnly'], 0, 'a mode change sends no content');
    assert.equal(r['stat'], '600 root root');
    assert.equal(r['readBack'], 'hello\n');
    assert.equal(r['sha256Matches'], true);
    assert.equal(r['missingSha'], null);
    assert.equal(r['missingRead'], null);
    const atomic = r['atomic'] as { writes: boolean[]; seen: Array<{ count: number; hash: string }>; versions: string[] };
    assert.ok(atomic.writes.every(Boolean));
    const reads = atomic.seen.reduce((n, s) => n + s.count, 0);
    assert.ok(reads >= 10, `the reader should have read the file many times, read it ${reads} times`);
    for (const s of atomic.seen) assert.ok(atomic.versions.includes(s.hash), `a reader saw a partial or missing file: ${s.hash}`);
    assert.equal(r['leftovers'], '', 'no temp files left behind');
    assert.equal(r['upload1'], true);
    assert.equal(r['upload2'], false);
    assert.equal(r['uploadBytes'], r['payloadSize']);
    assert.equal(r['uploadBytesAfterSecond'], r['payloadSize'], 'the second upload sent nothing');
    assert.equal(r['uploadRemoteSha'], r['uploadLocalSha']);
    assert.equal(r['runError'].name, 'HostCommandError');
    assert.equal(r['runError'].status, 3);
    assert.equal(r['runError'].command, `sh -c 'echo to-stdout; echo "it failed" >&2; exit 3'`);
    assert.match(r['runError'].message, /exit code 3[\s\S]*it failed/);
    assert.equal(r['execCode'], 7);
    assert.match(r['timeout'].message, /timed out after 0\.5 s: sleep 30/);
    // The host-side timer (bound + 1 s) kills it even though root's sessions cannot be signalled.
    let sleeping = '1';
    for (let i = 0; i < 40 && sleeping !== '0'; i++) {
      sleeping = await onHost(lab.hosts[0]!.name, ['sh', '-c', 'ps -eo args | grep -c "^sleep 30" || true']);
      if (sleeping !== '0') await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(sleeping, '0', 'the timed-out command is killed on the host within 10 s');
    assert.equal(r['stdin'], 'from stdin\n');
    assert.equal(r['env'], "a 'quoted' $value");
    assert.deepEqual(r['handshakes'], { node1: 1 });
  });

  test('a dropped connection is re-established once, then the host fails', async () => {
    const r = await scenario<Record<string, any>>('reconnect', lab.inventoryDir);
    assert.match(r['first'].message, /connection lost while running/);
    assert.equal(r['afterFirst'], 'again');
    assert.match(r['afterSecond'].message, /lost again/);
    assert.equal(r['afterSecond'].host, 'node1');
    assert.deepEqual(r['handshakes'], { node1: 2 });
    assert.ok((r['events'] as Event[]).some((e) => e.type === 'ssh.reconnecting'));
  });

  test('a non-root user with sudo: writes owned by root, its own ~/.ssh, a clear error without sudo', async () => {
    const dir = await inventoryVariant('become', async (d) => {
      const vars = path.join(d, 'group_vars', 'all', 'lab.yml');
      await writeFile(vars, (await readFile(vars, 'utf8')).replace(/^ansible_user: root$/m, 'ansible_user: kprov'));
      await rm(path.join(d, 'credentials', 'id_ed25519'));
      await rm(path.join(d, 'credentials', 'id_ed25519.pub'));
    });
    const keys = await scenario<RunReport>('distribute', dir);
    for (const h of lab.hosts) {
      const o = byHost(keys, h.name);
      assert.equal(o.error, undefined, JSON.stringify(o.error));
      assert.equal(o.user, 'kprov');
      assert.equal(o.appended, true);
      assert.equal(
        await onHost(h.name, ['stat', '-c', '%a %U', '/home/kprov/.ssh', '/home/kprov/.ssh/authorized_keys']),
        '700 kprov\n600 kprov',
      );
    }
    const r = await scenario<{ hosts: HostOutcome[]; handshakes: Record<string, number> }>('become', dir);
    for (const h of lab.hosts) {
      const o = byHost(r, h.name);
      assert.equal(o.error, undefined, JSON.stringify(o.error));
      assert.equal(o['wrote'], true);
      assert.equal(o['again'], false);
      assert.equal(o['stat'], '600 root root');
      assert.equal(o['read'], 'only root\n');
      assert.equal(o['uid'], '0');
      assert.equal(o['loginUid'], 'kprov');
      assert.equal(o.method, 'cluster-key');
      assert.equal(o['leftovers'], '', 'the staged upload was removed');
    }
    await onHost('node2', ['mv', '/etc/sudoers.d/kprov', '/root/kprov.sudoers']);
    try {
      const broken = await scenario<{ hosts: HostOutcome[] }>('become', dir);
      const o = byHost(broken, 'node2');
      assert.match(o.error?.message ?? '', /cannot become root with sudo as kprov: a password is required/);
      assert.match(o.error?.hint ?? '', /NOPASSWD/);
      assert.equal(byHost(broken, 'node1').error, undefined);
      assert.equal(byHost(broken, 'node3').error, undefined);
    } finally {
      await onHost('node2', ['mv', '/root/kprov.sudoers', '/etc/sudoers.d/kprov']);
    }
  });

  test('a changed host key stops that host with both fingerprints and the command that forgets the old one', async () => {
    const old = await hostKeyFingerprint('node2');
    await onHost('node2', [
      'sh',
      '-c',
      'rm -f /etc/ssh/ssh_host_ed25519_key* /etc/ssh/ssh_host_ecdsa_key* && ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key && ssh-keygen -q -t ecdsa -N "" -f /etc/ssh/ssh_host_ecdsa_key && systemctl restart ssh',
    ]);
    const fresh = await hostKeyFingerprint('node2');
    assert.notEqual(fresh, old);
    const r = await scenario<RunReport>('connect-all', lab.inventoryDir);
    const refused = byHost(r, 'node2');
    assert.equal(refused.ok, false);
    assert.equal(refused.error?.host, 'node2');
    assert.ok(refused.error?.message.includes(fresh), 'names the new fingerprint');
    assert.ok(refused.error?.message.includes(old), 'names the pinned fingerprint');
    const knownHosts = path.join(lab.inventoryDir, 'known_hosts');
    assert.equal(refused.error?.hint?.endsWith(`ssh-keygen -R 10.213.0.12 -f ${knownHosts}`), true, refused.error?.hint);
    assert.equal(byHost(r, 'node1').ok, true);
    assert.equal(byHost(r, 'node3').ok, true);
    // The hint's command works, and then the new key is pinned on first use.
    const forget = await runCommand(['ssh-keygen', '-R', '10.213.0.12', '-f', knownHosts]);
    assert.equal(forget.code, 0, forget.stderr);
    const again = await scenario<RunReport>('connect-all', lab.inventoryDir);
    assert.ok(again.hosts.every((h) => h.ok));
    assert.equal(again.events.find((e) => e.type === 'ssh.hostkey.pinned')?.fingerprint, fresh);
  });

  test('a host reachable only through the bastion', async () => {
    // node3 answers hosts on the bridge, but its replies to the lab namespace go nowhere.
    await onHost('node3', ['ip', 'route', 'add', 'blackhole', '10.213.0.1/32']);
    try {
      const direct = await scenario<RunReport>('connect-all', lab.inventoryDir, { connectTimeoutMs: 2000 });
      const silent = byHost(direct, 'node3');
      assert.equal(silent.ok, false);
      assert.match(silent.error?.message ?? '', /no SSH login to root@10\.213\.0\.13:22 within 2 s/);
      assert.ok(silent.ms! >= 1900 && silent.ms! < 3500, `timed out in ${silent.ms} ms`);
      assert.equal(byHost(direct, 'node1').ok, true);
      assert.equal(byHost(direct, 'node2').ok, true);

      const dir = await inventoryVariant('bastion', async (d) => {
        const ini = path.join(d, 'inventory.ini');
        await writeFile(ini, `${await readFile(ini, 'utf8')}\n[bastion]\nnode1\n`);
      });
      const r = await scenario<RunReport>('connect-all', dir, { connectTimeoutMs: 5000 });
      for (const h of lab.hosts) assert.equal(byHost(r, h.name).ok, true, JSON.stringify(byHost(r, h.name).error));
      // SSH_CONNECTION on node3 shows the bastion's address as the client.
      assert.match(byHost(r, 'node3').sshConnection ?? '', /^10\.213\.0\.11 \d+ 10\.213\.0\.13 22$/);
      assert.match(byHost(r, 'node1').sshConnection ?? '', /^10\.213\.0\.1 /);
      assert.deepEqual(r.handshakes, { node1: 1, node2: 1, node3: 1 });
    } finally {
      await onHost('node3', ['ip', 'route', 'del', 'blackhole', '10.213.0.1/32']);
    }
  });

  test('a stopped host fails fast and is named while the others finish', async () => {
    await lab.exec('node3', ['systemctl', 'poweroff']);
    // Bounded wait until node3's sshd is gone.
    let running = true;
    for (let i = 0; i < 120 && running; i++) {
      // lab.exec refuses once the host's init is gone.
      running = await lab.exec('node3', ['true']).then((r) => r.code === 0, () => false);
      if (running) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(running, false, 'node3 did not power off within 30 s');
    const r = await scenario<RunReport>('connect-all', lab.inventoryDir, { connectTimeoutMs: 3000 });
    const stopped = byHost(r, 'node3');
    assert.equal(stopped.ok, false);
    assert.equal(stopped.error?.host, 'node3');
    assert.match(stopped.error?.message ?? '', /10\.213\.0\.13:22/);
    assert.ok(stopped.ms! < 3500, `failed after ${stopped.ms} ms`);
    assert.equal(byHost(r, 'node1').ok, true);
    assert.equal(byHost(r, 'node2').ok, true);
  });

  test('no password appears in any output', () => {
    assert.ok(password.length >= 16);
    for (const t of transcripts) assert.ok(!t.includes(password));
  });
});
