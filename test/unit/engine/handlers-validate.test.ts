/**
 * Two engine rules: a restart handler does not restart a unit this run started after every
 * change that notified it (and says so: skipped, in events, output and recap, in a plan too);
 * and every role's `validate` runs for every play before any host is contacted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plainRenderer } from '../../../src/engine/render/plain.js';
import { file, restartHandler, service } from '../../../src/engine/tasks/index.js';
import { KprovError } from '../../../src/errors.js';
import type { Handler, Role } from '../../../src/engine/contract.js';
import { FakeFleet } from '../../../dev/fake-fleet.js';
import { clusterInventory, convergingTask, hostNames, makeInventory, role, runYaml, runYamlRefused } from './playbook-harness.js';

const PLAY = '- name: app\n  hosts: all\n  roles: [app]\n';
const SKIPPED = 'app.service was started by this run after every change that notified it';

/** The unit file and config written first, then the service started: the usual role. */
function appRole(config: { text: string }, extra: { afterStart?: boolean } = {}): Role {
  const health = { command: () => ({ argv: ['app-health'] }) };
  return {
    name: 'app',
    handlers: [restartHandler({ unit: 'app', intervalMs: 5, timeoutMs: 500, healthy: health })],
    tasks: () => [
      file({ path: '/etc/systemd/system/app.service', content: '[Service]\nExecStart=/bin/app\n', notify: ['restart app'] }),
      file({ path: '/etc/app.conf', content: config.text, notify: ['restart app'] }),
      service({ unit: 'app' }),
      ...(extra.afterStart ? [file({ path: '/etc/app.extra', content: 'written after the start\n' })] : []),
    ],
  };
}

function appFleet(names: string[]): { fleet: FakeFleet; probes: string[] } {
  const fleet = new FakeFleet(names);
  const probes: string[] = [];
  for (const m of fleet.machines.values()) {
    m.script = (argv) => {
      if (argv[0] !== 'app-health') return undefined;
      probes.push(m.name);
      return { code: m.units.get('app.service')?.active ? 0 : 1, stdout: '', stderr: '' };
    };
  }
  return { fleet, probes };
}

test('a unit started after every change that notified it is not restarted: skipped, still waited for, in events, output and recap', async () => {
  const names = hostNames(2);
  const inventory = makeInventory(names);
  const config = { text: 'v1\n' };

  const { fleet: planFleet } = appFleet(names);
  const plan = await runYaml(PLAY, { inventory, roles: [appRole(config)], fleet: planFleet, dryRun: true });
  assert.deepEqual(plan.of('handler:finish').map((e) => [e.status, e.reason]), names.map(() => ['skipped', `dry run: would skip: ${SKIPPED}`]), 'a plan says the same');

  const { fleet, probes } = appFleet(names);
  const lines: string[] = [];
  const plain = plainRenderer((l) => lines.push(l));
  const first = await runYaml(PLAY, { inventory, roles: [appRole(config)], fleet });
  for (const e of first.events) plain.sink(e);
  assert.equal(first.result.status, 'ok');
  assert.deepEqual(first.of('handler:finish').map((e) => [e.host, e.status, e.reason]), names.map((n) => [n, 'skipped', SKIPPED]));
  assert.deepEqual(first.result.recap.map((r) => [r.changed, r.skipped]), names.map(() => [3, 1]), 'three tasks changed; the handler is not counted as a change');
  for (const m of fleet.machines.values()) assert.deepEqual(m.restarts, [], `${m.name}: started once`);
  assert.deepEqual(probes.sort(), names, 'the skipped restart still waited for health');
  const text = lines.join('\n');
  assert.match(text, new RegExp(`^ {2}node1 +skipped +handler: restart app +\\d+ ms {2}\\(${SKIPPED}\\)$`, 'm'));
  assert.match(text, /^node1 : ok=0 {2}changed=3 {2}unreachable=0 {2}failed=0 {2}skipped=1$/m);

  // The running unit's config changes: this run did not start it, so it restarts.
  config.text = 'v2\n';
  const second = await runYaml(PLAY, { inventory, roles: [appRole(config)], fleet });
  assert.deepEqual(second.of('handler:finish').map((e) => [e.host, e.status]), names.map((n) => [n, 'changed']));
  for (const m of fleet.machines.values()) assert.equal(m.restarts.length, 1, m.name);
});

test('a file changed after the start still restarts the unit (the start did not see it)', async () => {
  const names = ['node1'];
  const { fleet } = appFleet(names);
  const run = await runYaml(PLAY, { inventory: makeInventory(names), roles: [appRole({ text: 'v1\n' }, { afterStart: true })], fleet });
  assert.deepEqual(run.of('handler:finish').map((e) => e.status), ['changed']);
  assert.equal(fleet.machine('node1').restarts.length, 1);
});

test('a handler whose run finds nothing to do reports skipped with its reason, and is still waited for', async () => {
  let waited = 0;
  const handler: Handler = {
    name: 'maybe',
    async run() {
      return { status: 'skipped', reason: 'nothing to reload' };
    },
    async waitHealthy() {
      waited += 1;
    },
  };
  const roles = [role('a', () => [convergingTask('t', { notify: ['maybe'] })], { handlers: [handler] })];
  const fleet = new FakeFleet(['node1']);
  const run = await runYaml('- name: p\n  hosts: all\n  roles: [a]\n', { inventory: makeInventory(['node1']), roles, fleet });
  assert.deepEqual(run.of('handler:finish').map((e) => [e.status, e.reason]), [['skipped', 'nothing to reload']]);
  assert.deepEqual(run.result.recap.map((r) => [r.changed, r.skipped]), [[1, 1]]);
  assert.equal(waited, 1);
});

const TWO_PLAYS = `
- name: first
  hosts: all
  roles: [a]
- name: second
  hosts: etcd
  roles: [b]
`;

test('validate runs for every play (its selected roles) before any host is contacted; a failure is bad input and nothing runs', async () => {
  const inventory = clusterInventory(2);
  const seen: string[] = [];
  const roles = [
    role('a', () => [convergingTask('a1')], { tags: ['only-a'], validate: (ctx) => void seen.push(`a:${ctx.play}:${ctx.hosts.map((h) => h.name).join(',')}`) }),
    role('b', () => [convergingTask('b1')], {
      validate: (ctx) => {
        seen.push(`b:${ctx.play}:${ctx.hosts.map((h) => h.name).join(',')}`);
        throw new KprovError('template', 'templates/b.j2: b does not accept --magic', { hint: 'fix the template' });
      },
    }),
  ];
  const fleet = new FakeFleet(hostNames(5));
  const refused = await runYamlRefused(TWO_PLAYS, { inventory, roles, fleet, limit: 'node1:node4' });
  assert.equal(refused.error.exitCode, 2);
  assert.equal(refused.error.message, 'templates/b.j2: b does not accept --magic');
  assert.deepEqual(seen, ['a:first:node1,node4', 'b:second:node1'], 'every play, with its hosts after --limit');
  assert.deepEqual(refused.events.map((e) => e.type), ['run:start', 'run:invalid']);
  assert.deepEqual(refused.of('run:invalid').map((e) => [e.play, e.role, e.error.message, e.error.hint]), [['second', 'b', refused.error.message, 'fix the template']]);
  assert.equal(fleet.connects.size, 0, 'no host was contacted');

  // A role that --tags leave without a task runs nothing: it is neither validated nor prepared.
  seen.length = 0;
  const tagged = await runYaml(TWO_PLAYS, { inventory, roles, fleet, tags: ['only-a'] });
  assert.equal(tagged.result.status, 'ok');
  assert.deepEqual(seen, ['a:first:node1,node2,node3,node4,node5']);
});

test('a validate that fails with an unexpected error is still bad input, naming the role', async () => {
  const roles = [role('a', () => [], { validate: () => { throw new TypeError('cannot read x of undefined'); } })];
  const fleet = new FakeFleet(['node1']);
  const refused = await runYamlRefused('- name: p\n  hosts: all\n  roles: [a]\n', { inventory: makeInventory(['node1']), roles, fleet });
  assert.equal(refused.error.exitCode, 2);
  assert.equal(refused.error.message, 'a: cannot read x of undefined');
  assert.equal(fleet.connects.size, 0);
});

test('validate passing changes nothing about the run', async () => {
  let validated = 0;
  const roles = [role('a', () => [convergingTask('a1')], { validate: () => void (validated += 1) })];
  const fleet = new FakeFleet(['node1', 'node2']);
  const run = await runYaml('- name: p\n  hosts: all\n  roles: [a]\n- name: q\n  hosts: node2\n  roles: [a]\n', { inventory: makeInventory(['node1', 'node2']), roles, fleet });
  assert.equal(run.result.status, 'ok');
  assert.equal(validated, 2, 'once per play');
  assert.deepEqual(run.result.recap.map((r) => r.changed), [1, 1]);
});
