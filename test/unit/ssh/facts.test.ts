import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { factsCommand, parseFacts } from '../../../src/ssh/facts.js';

test('the facts script runs in a real local sh and parses', () => {
  const [cmd, ...args] = factsCommand();
  const r = spawnSync(cmd!, args, { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', SSH_CONNECTION: '10.1.1.1 50000 10.1.1.2 22' } });
  assert.equal(r.status, 0, r.stderr);
  const facts = parseFacts(r.stdout);
  assert.equal(facts.hostname, spawnSync('uname', ['-n'], { encoding: 'utf8' }).stdout.trim());
  assert.equal(facts.arch, spawnSync('uname', ['-m'], { encoding: 'utf8' }).stdout.trim());
  assert.ok(facts.cpus >= 1);
  assert.ok(facts.memoryMb > 0);
  assert.ok(facts.defaultIPv4 !== undefined);
});

const sample = [
  'hostname=node1',
  'os_id=debian',
  'os_version=12',
  'os_name=Debian GNU/Linux 12 (bookworm)',
  'arch=x86_64',
  'kernel=6.1.0-18-amd64',
  'cpus=2',
  'mem_kb=2048000',
  'swap_kb=1048576',
  'systemd=252',
].join('\n');

test('parses a lab host without a default route: the SSH server address stands in', () => {
  const facts = parseFacts(`${sample}\nroute_ipv4=\nssh_server_ip=10.213.0.11\n`);
  assert.deepEqual(facts, {
    hostname: 'node1',
    os: { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
    arch: 'x86_64',
    kernel: '6.1.0-18-amd64',
    cpus: 2,
    memoryMb: 2000,
    swapMb: 1024,
    systemdVersion: 252,
    defaultIPv4: '10.213.0.11',
  });
});

test('the default route wins; IPv6 SSH addresses and missing systemd give undefined', () => {
  assert.equal(parseFacts(`${sample}\nroute_ipv4=192.168.1.5\nssh_server_ip=10.0.0.1\n`).defaultIPv4, '192.168.1.5');
  const noSystemd = parseFacts(sample.replace('systemd=252', '') + '\nssh_server_ip=fe80::1\n');
  assert.equal(noSystemd.systemdVersion, undefined);
  assert.equal(noSystemd.defaultIPv4, undefined);
});

test('garbage is refused', () => {
  assert.throws(() => parseFacts('hostname=x\ncpus=lots\n'));
});
