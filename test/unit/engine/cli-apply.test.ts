import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { commandArgv, registerApply, runApplyCommand, type ApplyCommandOptions, type ApplyDeps } from '../../../src/cli/apply.js';
import type { CliIO } from '../../../src/cli/io.js';
import { watchInterrupts } from '../../../src/cli/interrupts.js';
import type { RunEvent } from '../../../src/engine/events.js';
import { RoleRegistry } from '../../../src/engine/role-registry.js';
import { file, restartHandler, service } from '../../../src/engine/tasks/index.js';
import { KprovError } from '../../../src/errors.js';
import type { Role } from '../../../src/engine/contract.js';
import { FakeFleet } from '../../../dev/fake-fleet.js';
import { runCli } from '../../support/run-cli.js';
import { answerReadAhead } from './fake-read-ahead.js';
import { clusterInventory, commandTask, fakeFacts, hostNames } from './playbook-harness.js';

const PLAYBOOK = `
- name: Configure
  hosts: all
  tags: [configure]
  roles: [app]
- name: Later
  hosts: etcd
  tags: [later]
  roles: [later]
`;

function appRoles(): Role[] {
  return [
    {
      name: 'app',
      taskTags: ['config'],
      handlers: [restartHandler({ unit: 'app', intervalMs: 5, timeoutMs: 500 })],
      // The config comes after the start, so its change needs the restart (a unit started after
      // every change that notified it would not be restarted).
      tasks: (ctx) => [
        file({ path: '/etc/app.key', content: '-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYDATA\n-----END PRIVATE KEY-----\n', mode: 0o600, secret: true }),
        file({ path: '/etc/systemd/system/app.service', content: '[Service]\nExecStart=/bin/app\n' }),
        service({ unit: 'app' }),
        file({ path: '/etc/app.conf', content: `name=${ctx.host.name}\n`, notify: ['restart app'], tags: ['config'] }),
      ],
    },
    { name: 'later', tasks: () => [commandTask('health', ['node2'], ['app-health'])] },
  ];
}

interface Harness {
  deps: ApplyDeps;
  cwd: string;
  inventoryDir: string;
  fleet: FakeFleet;
  out: string[];
  err: string[];
  closed: number;
}

async function harness(opts: { isTTY?: boolean; terminal?: ApplyDeps['terminal'] } = {}): Promise<Harness> {
  const cwd = await mkdtemp(path.join(tmpdir(), 'kprov-apply-'));
  const inventoryDir = path.join(cwd, 'inventory', 'lab');
  const playbooksDir = path.join(cwd, 'playbooks');
  await mkdir(inventoryDir, { recursive: true });
  await mkdir(playbooksDir);
  await writeFile(path.join(playbooksDir, 'site.yml'), PLAYBOOK);
  const fleet = answerReadAhead(new FakeFleet(hostNames(4)));
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), env: {}, cwd, isTTY: opts.isTTY ?? false };
  const h: Harness = { cwd, inventoryDir, fleet, out, err, closed: 0, deps: undefined as unknown as ApplyDeps };
  h.deps = {
    io,
    playbooksDir,
    roles: new RoleRegistry(appRoles()),
    resolveInventoryDir: async (option) => path.resolve(cwd, option ?? 'inventory/lab'),
    loadInventory: async (dir, load) => ({
      ...clusterInventory(1, dir),
      createRun: () => undefined,
      warnings: [{ message: 'unknown variable "foo"', location: { file: 'group_vars/all.yml', line: 3 } }],
      // Only k=v extra vars: enough for a play's confirmation variable.
      hostVar: (_host, name) => load.extraVars.map((e) => e.split('=')).find(([k]) => k === name)?.[1],
      clusterVars: Object.fromEntries(load.extraVars.map((e) => e.split('=') as [string, string])),
    }),
    createConnector: (_inv, setup) => {
      assert.ok(setup.concurrency >= 1);
      return {
        connect: async (host) => {
          if (!fleet.connects.has(host.name)) setup.notice(`trusted ED25519 host key SHA256:fake on first use`, host.name);
          return fleet.connect(host);
        },
        closeAll: async () => {
          h.closed += 1;
          await Promise.all(fleet.opened.map((o) => o.close()));
        },
      };
    },
    clock: { now: () => Date.now() },
    gatherFacts: fakeFacts,
    ...(opts.terminal ? { terminal: opts.terminal } : {}),
  };
  return h;
}

const options = (over: Partial<ApplyCommandOptions> = {}): ApplyCommandOptions => ({
  playbook: 'site',
  dryRun: false,
  tags: [],
  skipTags: [],
  concurrency: 20,
  json: false,
  ...over,
});

async function runLogs(inventoryDir: string): Promise<string[]> {
  return (await readdir(path.join(inventoryDir, 'runs'))).sort();
}

test('--json prints only JSON-lines events, and the run log gets the same events', async () => {
  const h = await harness();
  const code = await runApplyCommand(options({ json: true }), h.deps);
  assert.equal(code, 1, 'node2 fails in the second play');
  const events = h.out.map((l) => JSON.parse(l) as RunEvent);
  assert.equal(events[0]!.type, 'run:start');
  assert.equal(events.at(-1)!.type, 'run:finish');
  assert.ok(events.some((e) => e.type === 'warning' && /group_vars\/all\.yml:3: unknown variable "foo"/.test(e.message)), 'inventory warnings are events');
  assert.ok(events.some((e) => e.type === 'warning' && e.host === 'node1' && /host key/.test(e.message)), 'connector notices are events');
  const logs = await runLogs(h.inventoryDir);
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-[0-9a-f]{8}\.jsonl$/);
  const logged = (await readFile(path.join(h.inventoryDir, 'runs', logs[0]!), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as RunEvent);
  assert.deepEqual(logged, events);
  const runId = events[0]!.runId;
  assert.ok(events.every((e) => e.runId === runId), 'every event, the connector\'s notices too, carries the run id');
  assert.ok(logs[0]!.endsWith(`-${runId}.jsonl`), 'the run log is named after the run');
  assert.doesNotMatch(h.out.join('\n'), /TOPSECRETKEYDATA/);
  assert.equal(h.closed, 1, 'connections are closed once at the end');
});

test('two runs started in the same second write two run logs, each event with its own run id', async () => {
  const h = await harness();
  const second = new Date('2025-01-31T12:00:05.000Z').getTime();
  const deps: ApplyDeps = { ...h.deps, clock: { now: () => second } };
  assert.equal(await runApplyCommand(options({ dryRun: true, json: true }), deps), 1);
  const firstRun = h.out.map((l) => JSON.parse(l) as RunEvent);
  h.out.length = 0;
  assert.equal(await runApplyCommand(options({ dryRun: true, json: true }), deps), 1);
  const secondRun = h.out.map((l) => JSON.parse(l) as RunEvent);
  const logs = await runLogs(h.inventoryDir);
  assert.equal(logs.length, 2, logs.join(', '));
  assert.ok(logs.every((l) => l.startsWith('2025-01-31T12-00-05Z-')));
  assert.notEqual(firstRun[0]!.runId, secondRun[0]!.runId);
  for (const [run, events] of [firstRun, secondRun].entries()) {
    const log = logs.find((l) => l.endsWith(`-${events[0]!.runId}.jsonl`))!;
    const logged = (await readFile(path.join(h.inventoryDir, 'runs', log), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as RunEvent);
    assert.deepEqual(logged, events, `run ${run + 1} has a log of its own`);
  }
});

test('plain output: tasks, handler, failure with command and output, recap; exit 1', async () => {
  const h = await harness();
  h.fleet.machine('node2').script = (argv) => (argv[0] === 'app-health' ? { code: 2, stdout: '', stderr: 'checking\nbackend down\n' } : undefined);
  const code = await runApplyCommand(options(), h.deps);
  assert.equal(code, 1);
  const text = h.out.join('\n');
  assert.match(text, /^APPLY playbooks\/site\.yml on 4 host\(s\)$/m);
  assert.match(text, /^PLAY \[Configure\] 4 host\(s\)$/m);
  assert.match(text, /^ {2}node1 +changed +app: file \/etc\/app\.conf +\d+ ms$/m);
  assert.match(text, /^ +~ create \/etc\/app\.conf \(0644\)$/m);
  assert.match(text, /HANDLER restart app: node1, node2, node3, node4/);
  assert.match(text, /^ {2}FAILED node2: later: health: command `app-health` exited with 2$/m);
  assert.match(text, /^ {2}FAILED {3}\| backend down$/m);
  assert.match(text, /^PLAY RECAP$/m);
  assert.match(text, /^node2 : ok=0 {2}changed=5 {2}unreachable=0 {2}failed=1 {2}skipped=0$/m);
  assert.match(text, /^FAILED on node2 \(/m);
  assert.match(text, /^run log: inventory\/lab\/runs\/.*\.jsonl$/m);
});

test('a failed host is named in the recap with what the next run will do there; exit 1', async () => {
  const h = await harness();
  h.fleet.unreachable.add('node4');
  const code = await runApplyCommand(options(), h.deps);
  assert.equal(code, 1);
  const text = h.out.join('\n');
  assert.match(text, /^node4 : ok=0 {2}changed=0 {2}unreachable=1 /m);
  assert.match(text, /^LEFT FOR THE NEXT RUN \(2 hosts\)$/m);
  assert.match(text, /^node4 +unreachable at Configure: connect\n +done: nothing\n +not done: Configure$/m);
  assert.match(text, /^node2 +failed at Later: later: health\n +done: Configure\n +not done: Later$/m);
  assert.match(text, /^FAILED on node2, node4 \(/m);
});

test('plan: per-host changes with diffs, secrets masked, nothing written; a second apply reports 0 changed', async () => {
  const h = await harness();
  const before = hostNames(4).map((n) => h.fleet.machine(n).snapshot());
  const code = await runApplyCommand(options({ dryRun: true, limit: 'node1:node3' }), h.deps);
  assert.equal(code, 0, h.out.join('\n'));
  assert.deepEqual(hostNames(4).map((n) => h.fleet.machine(n).snapshot()), before);
  assert.deepEqual(h.fleet.allCalls().filter((c) => c.mutating), []);
  const text = h.out.join('\n');
  assert.match(text, /^PLAN \(dry run: nothing was changed on any host\)$/m);
  assert.match(text, /^node1: 6 changes$/m);
  assert.match(text, /^ {6}\+name=node1$/m);
  assert.match(text, /^ {6}@@ secret content not shown \(absent → \d+ bytes\) @@$/m);
  assert.match(text, /^ {2}handler: restart app$/m);
  assert.doesNotMatch(text, /node2:/, '--limit leaves node2 out');
  assert.doesNotMatch(text, /TOPSECRETKEYDATA/);
  assert.match(text, /^plan: 2 host\(s\) would change; nothing was modified/m);

  h.out.length = 0;
  assert.equal(await runApplyCommand(options({ limit: 'node1' }), h.deps), 0, h.out.join('\n'));
  assert.match(h.out.join('\n'), /^node1 : ok=1 {2}changed=5 /m);
  h.out.length = 0;
  assert.equal(await runApplyCommand(options({ limit: 'node1' }), h.deps), 0);
  assert.match(h.out.join('\n'), /^node1 : ok=5 {2}changed=0 /m);
  assert.match(h.out.join('\n'), /^done: no changes/m);
  h.out.length = 0;
  assert.equal(await runApplyCommand(options({ limit: 'node1', tags: ['config'] }), h.deps), 0);
  assert.match(h.out.join('\n'), /^node1 : ok=1 {2}changed=0 /m, 'only the tagged task ran');
});

test('bad input is a KprovError (exit 2) before any host is touched', async () => {
  const h = await harness();
  await assert.rejects(runApplyCommand(options({ playbook: 'nosuch' }), h.deps), (e: KprovError) => e.exitCode === 2 && /no playbook named "nosuch"/.test(e.message));
  await assert.rejects(runApplyCommand(options({ limit: 'node9' }), h.deps), (e: KprovError) => e.exitCode === 2 && /--limit "node9"/.test(e.message));
  await writeFile(path.join(h.cwd, 'bad.yml'), '- name: x\n  hosts: etcd\n  roles: [app, nope]\n');
  await assert.rejects(runApplyCommand(options({ playbook: 'bad.yml' }), h.deps), (e: KprovError) => e.exitCode === 2 && e.location?.line === 3);
  assert.equal(h.fleet.connects.size, 0);
  await assert.rejects(readdir(path.join(h.inventoryDir, 'runs')), /ENOENT/, 'no run log for a run that never started');
});

test('the commander wiring passes every option through; plan is apply --dry-run', async () => {
  const h = await harness();
  const program = new Command().exitOverride();
  registerApply(program, h.deps.io, async () => h.deps);
  await program.parseAsync(['plan', 'site', '-i', 'inventory/lab', '--tags', 'config,configure', '--tags', 'later', '--skip-tags', 'never', '-l', 'node1', '--concurrency', '5', '--json'], { from: 'user' });
  const start = JSON.parse(h.out[0]!) as Extract<RunEvent, { type: 'run:start' }>;
  assert.equal(start.dryRun, true);
  assert.deepEqual(start.tags, ['config', 'configure', 'later']);
  assert.deepEqual(start.skipTags, ['never']);
  assert.equal(start.limit, 'node1');
  assert.equal(start.concurrency, 5);
  h.out.length = 0;
  await program.parseAsync(['apply', 'site', '--dry-run', '--json', '-l', 'node3'], { from: 'user' });
  assert.equal((JSON.parse(h.out[0]!) as { dryRun: boolean }).dryRun, true);
});

test('kprov apply/plan through the real CLI: help, usage errors exit 2', async () => {
  const help = await runCli(['plan', '--help']);
  assert.equal(help.code, 0);
  for (const flag of ['--inventory', '--limit', '--tags', '--skip-tags', '--concurrency', '--json']) assert.match(help.stdout, new RegExp(flag));
  assert.match((await runCli(['apply', '--help'])).stdout, /--dry-run/);
  const badConcurrency = await runCli(['apply', 'cluster', '--concurrency', '0']);
  assert.equal(badConcurrency.code, 2);
  assert.match(badConcurrency.stderr, /--concurrency "0" is not a whole number from 1 to 1000/);
  const cwd = await mkdtemp(path.join(tmpdir(), 'kprov-cli-'));
  const noPlaybook = await runCli(['plan', 'no-such-playbook', '-i', cwd], { cwd });
  assert.equal(noPlaybook.code, 2);
  assert.match(noPlaybook.stderr, /^error: no playbook named "no-such-playbook"/);
});

test('on a terminal, listr2 draws play → host → task with timings, then the recap', async () => {
  const stdout = Object.assign(new PassThrough(), { columns: 120, rows: 40, isTTY: true }) as unknown as NodeJS.WriteStream;
  const stderr = Object.assign(new PassThrough(), { columns: 120, rows: 40, isTTY: true }) as unknown as NodeJS.WriteStream;
  let drawn = '';
  (stdout as unknown as PassThrough).on('data', (b: Buffer) => (drawn += b.toString()));
  (stderr as unknown as PassThrough).on('data', () => undefined);
  const h = await harness({ isTTY: true, terminal: { stdout, stderr } });
  h.fleet.machine('node2').script = (argv) => (argv[0] === 'app-health' ? { code: 2, stdout: '', stderr: 'backend down\n' } : undefined);
  // Slow enough that frames are drawn while tasks run.
  for (const m of h.fleet.machines.values()) m.latencyMs = 40;
  const code = await runApplyCommand(options(), h.deps);
  assert.equal(code, 1);
  // eslint-style strip of ANSI sequences to read what a person sees.
  const plain = drawn.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
  assert.match(plain, /PLAY \[Configure\] 4 host\(s\)/);
  assert.match(plain, /node1 changed [\d.]+ m?s/);
  assert.match(plain, /app: file \/etc\/app\.key [\d.]+ m?s changed/);
  assert.match(plain, /handlers: restart app on node1, node2, node3, node4/);
  assert.match(plain, /^ {2}✔ node4 changed [\d.]+ m?s$/m, 'a finished play keeps one line per host');
  assert.match(plain, /node2: later: health: command `app-health` exited with 2/);
  assert.match(plain, /PLAY RECAP/);
  assert.match(plain, /node2 : ok=0 {2}changed=5/);
  assert.deepEqual(h.out.filter((l) => !/^run log:/.test(l)), [], 'everything but the run log path goes to the terminal stream');
});

test('a lab inventory runs the same command where its hosts are reachable, with every option', async () => {
  const h = await harness();
  const seen: { dir: string; argv: string[] }[] = [];
  let loaded = 0;
  const loader = h.deps.loadInventory;
  const deps: ApplyDeps = {
    ...h.deps,
    loadInventory: async (dir, load) => {
      loaded += 1;
      return loader(dir, load);
    },
    runElsewhere: async (dir, argv) => {
      seen.push({ dir, argv });
      return 7;
    },
  };
  const code = await runApplyCommand(options({ dryRun: true, limit: 'etcd:!node2', tags: ['config', 'later'], skipTags: ['never'], concurrency: 4, json: true }), deps);
  assert.equal(code, 7, 'the exit code of the command run elsewhere');
  assert.equal(loaded, 0, 'nothing is loaded or contacted here');
  assert.equal(h.fleet.connects.size, 0);
  assert.equal(seen[0]!.dir, h.inventoryDir);
  const argv = seen[0]!.argv;
  assert.deepEqual(argv.slice(0, 4), ['apply', path.join(h.cwd, 'playbooks', 'site.yml'), '-i', h.inventoryDir]);

  // The argv, parsed by the real command, asks for exactly the same run.
  const program = new Command().exitOverride();
  registerApply(program, h.deps.io, async () => h.deps);
  await program.parseAsync(argv, { from: 'user' });
  const start = JSON.parse(h.out[0]!) as Extract<RunEvent, { type: 'run:start' }>;
  assert.deepEqual([start.dryRun, start.limit, start.tags, start.skipTags, start.concurrency], [true, 'etcd:!node2', ['config', 'later'], ['never'], 4]);
});

test('an unknown --tags or --skip-tags value is bad input before the inventory is read or any host contacted', async () => {
  const h = await harness();
  let loaded = 0;
  const deps: ApplyDeps = { ...h.deps, loadInventory: async (dir, load) => (loaded++, h.deps.loadInventory(dir, load)) };
  await assert.rejects(runApplyCommand(options({ tags: ['confg'], skipTags: ['nope'] }), deps), (e: KprovError) => {
    assert.equal(e.code, 'usage');
    assert.equal(e.exitCode, 2);
    assert.equal(e.message, 'unknown tags "confg" in --tags (did you mean "config"?), "nope" in --skip-tags');
    assert.equal(e.hint, 'site.yml has the tags config, configure, later; special tags: all, always, never, tagged, untagged');
    return true;
  });
  assert.equal(loaded, 0);
  assert.equal(h.fleet.connects.size, 0);
  await assert.rejects(readdir(path.join(h.inventoryDir, 'runs')), /ENOENT/, 'no run log');
});

test('kprov plan cluster --tags etdc exits 2 suggesting etcd; the playbook\'s tags and the special ones are accepted', async () => {
  const cwd = await mkdtemp(path.join(tmpdir(), 'kprov-cli-tags-'));
  const typo = await runCli(['plan', 'cluster', '--tags', 'etdc', '-i', cwd], { cwd });
  assert.equal(typo.code, 2);
  assert.equal(typo.stdout, '');
  const [first, hint] = typo.stderr.trimEnd().split('\n');
  assert.equal(first, 'error: unknown tag "etdc" in --tags (did you mean "etcd"?)');
  assert.match(hint!, /^ {2}cluster\.yml has the tags .*\bcontrol-plane\b.*\betcd\b.*\bssh-keys\b.*; special tags: all, always, never, tagged, untagged$/);
  // Valid tags pass the check and fail later, for want of an inventory, not because of the tags.
  for (const tags of [['etcd'], ['ssh-keys,preflight'], ['tagged'], ['master']]) {
    const r = await runCli(['plan', 'cluster', '--tags', ...tags, '--skip-tags', 'never', '-i', cwd], { cwd });
    assert.doesNotMatch(r.stderr, /unknown tag/, tags.join());
  }
});

test('one run at a time: a second apply is refused at once (exit 2) naming the holder; the lock goes with the run', async () => {
  const h = await harness();
  const lockFile = path.join(h.inventoryDir, '.kprov.lock');
  // The first run is slow enough for the second to start while it holds the lock.
  for (const m of h.fleet.machines.values()) m.latencyMs = 20;
  let lockedDuringRun: string | undefined;
  const watcher = setInterval(() => {
    void readFile(lockFile, 'utf8').then((t) => (lockedDuringRun ??= t), () => undefined);
  }, 5);
  const first = runApplyCommand(options(), h.deps);
  await new Promise((r) => setTimeout(r, 30));
  const connectsBefore = h.fleet.connects.size;
  const started = Date.now();
  await assert.rejects(runApplyCommand(options({ limit: 'node1' }), h.deps), (err: unknown) => {
    assert.ok(err instanceof KprovError);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, new RegExp(`^another kprov run holds ${lockFile.replace(/[.]/g, '\\.')}: pid ${process.pid} on host \\S+ since \\d\\d:\\d\\d:\\d\\d UTC \\(kprov apply site\\)$`));
    return true;
  });
  assert.ok(Date.now() - started < 1000, 'refused at once');
  assert.equal(await first, 1, 'the first run goes on to its end (node2 fails in "Later")');
  clearInterval(watcher);
  assert.ok(h.fleet.connects.size >= connectsBefore);
  const held = JSON.parse(lockedDuringRun!) as { runId: string; command: string; pid: number };
  assert.equal(held.command, 'kprov apply site');
  assert.equal(held.pid, process.pid);
  const logs = await runLogs(h.inventoryDir);
  assert.equal(logs.length, 1, 'the refused run wrote no run log');
  assert.ok(logs[0]!.endsWith(`-${held.runId}.jsonl`), 'the lock names the run of the log');
  await assert.rejects(readFile(lockFile), /ENOENT/, 'released at the end, a failed run too');
});

test('a plan takes no lock and is not stopped by one; a stale lock is taken over with a warning event', async () => {
  const h = await harness();
  const lockFile = path.join(h.inventoryDir, '.kprov.lock');
  const holder = { runId: 'dead0001', user: 'root', host: 'here', pid: 999_999, since: new Date().toISOString(), command: 'kprov apply site' };
  await writeFile(lockFile, JSON.stringify(holder));
  const deps: ApplyDeps = { ...h.deps, holderAlive: async (x) => (x.runId === 'dead0001' ? false : true) };
  assert.equal(await runApplyCommand(options({ dryRun: true, limit: 'node1' }), deps), 0);
  assert.equal(JSON.parse(await readFile(lockFile, 'utf8')).runId, 'dead0001', 'the plan left the lock alone');

  h.out.length = 0;
  assert.equal(await runApplyCommand(options({ json: true, limit: 'node1' }), deps), 0);
  const events = h.out.map((l) => JSON.parse(l) as RunEvent);
  const warning = events.find((e) => e.type === 'warning' && /took over/.test(e.message));
  assert.ok(warning && warning.type === 'warning');
  assert.equal(warning.message, `took over ${lockFile}: run dead0001 (pid 999999, kprov apply site) is gone`);
  await assert.rejects(readFile(lockFile), /ENOENT/);
});

test('a host held by another control host\'s run: the apply stops, exits 2 naming the holder, and releases its own locks', async () => {
  const h = await harness();
  const theirs = JSON.stringify({ runId: 'ffff0000', user: 'ops', host: 'ctl-b', pid: 777, since: new Date().toISOString(), command: 'kprov apply cluster' });
  h.fleet.machine('node3').hostLock = { owner: theirs, ageSeconds: 5 };
  await assert.rejects(runApplyCommand(options(), h.deps), (err: unknown) => {
    assert.ok(err instanceof KprovError);
    assert.equal(err.exitCode, 2);
    assert.equal(err.host, 'node3');
    assert.match(err.message, /^another kprov run holds \/run\/kprov\.lock on node3: pid 777 on host ctl-b since \d\d:\d\d:\d\d UTC \(kprov apply cluster\)$/);
    return true;
  });
  assert.match(h.out.join('\n'), /^STOPPING: another kprov run holds \/run\/kprov\.lock on node3/m);
  assert.equal(h.fleet.machine('node3').hostLock?.owner, theirs);
  for (const n of ['node1', 'node2', 'node4']) assert.equal(h.fleet.machine(n).hostLock, undefined, n);
  await assert.rejects(readFile(path.join(h.inventoryDir, '.kprov.lock')), /ENOENT/);
});

test('SIGTERM during an apply: steps under way end, the run log ends with run:finish interrupted, locks go, exit 130', async () => {
  const h = await harness();
  for (const m of h.fleet.machines.values()) m.latencyMs = 15;
  const proc = Object.assign(new EventEmitter(), { ppid: 1 });
  const exits: number[] = [];
  const deps: ApplyDeps = {
    ...h.deps,
    watchInterrupts: (graceMs) => watchInterrupts({ process: proc, notice: (t) => h.err.push(t), exit: (c) => exits.push(c), fromParent: false, graceMs }),
  };
  const run = runApplyCommand(options(), deps);
  await waitUntilTrue(() => h.fleet.allCalls().some((c) => c.method === 'writeFile'));
  proc.emit('SIGTERM');
  assert.equal(await run, 130);
  assert.deepEqual(exits, []);
  assert.match(h.err.join('\n'), /^kprov: SIGTERM: stopping: no new task starts/m);
  const text = h.out.join('\n');
  assert.match(text, /^STOPPING: interrupted \(SIGTERM\): nothing new starts; steps under way get up to 30\.0 s to end$/m);
  assert.match(text, /^PLAY \[Later\] skipped: interrupted \(SIGTERM\)$/m);
  assert.match(text, /^LEFT FOR THE NEXT RUN \(4 hosts\)$/m);
  assert.match(text, /^node1 +interrupted at Configure: before app: /m);
  assert.match(text, /^ +not done: Configure, Later$/m);
  assert.match(text, /^INTERRUPTED: interrupted \(SIGTERM\) \(/m);
  const [log] = await runLogs(h.inventoryDir);
  const events = (await readFile(path.join(h.inventoryDir, 'runs', log!), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as RunEvent);
  const last = events.at(-1)!;
  assert.ok(last.type === 'run:finish' && last.status === 'interrupted');
  assert.equal(proc.listenerCount('SIGTERM'), 0, 'signals are left alone after the run');
  await assert.rejects(readFile(path.join(h.inventoryDir, '.kprov.lock')), /ENOENT/);
  for (const m of h.fleet.machines.values()) assert.equal(m.hostLock, undefined, `${m.name}: host lock released`);
});

test('a second signal exits at once, removing the inventory lock first', async () => {
  const h = await harness();
  for (const m of h.fleet.machines.values()) m.latencyMs = 15;
  const proc = Object.assign(new EventEmitter(), { ppid: 1 });
  const lockFile = path.join(h.inventoryDir, '.kprov.lock');
  const atExit: boolean[] = [];
  const deps: ApplyDeps = {
    ...h.deps,
    watchInterrupts: (graceMs) =>
      watchInterrupts({ process: proc, notice: () => undefined, exit: () => atExit.push(existsSync(lockFile)), fromParent: false, graceMs }),
  };
  const run = runApplyCommand(options(), deps);
  await waitUntilTrue(() => h.fleet.allCalls().some((c) => c.method === 'writeFile'));
  assert.ok(existsSync(lockFile));
  proc.emit('SIGINT');
  proc.emit('SIGINT');
  assert.deepEqual(atExit, [false], 'exit(130) was called with the lock already removed');
  await run;
});

async function waitUntilTrue(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(condition(), 'condition not reached');
}

test("Ansible's options: --check is a plan, -f the concurrency, -e/-u/-b reach the inventory loader, --list-hosts and --list-tags stop before any host", async () => {
  const h = await harness();
  const loads: unknown[] = [];
  const deps: ApplyDeps = { ...h.deps, loadInventory: async (dir, load) => (loads.push(load), h.deps.loadInventory(dir, load)) };
  const program = new Command().exitOverride();
  registerApply(program, h.deps.io, async () => deps);
  await program.parseAsync(['apply', 'site.yml', '-i', 'inventory/lab', '-C', '-f', '3', '-e', 'kube_log_level=4', '-e', '@extra.yml', '-u', 'deploy', '-b', '--json'], { from: 'user' });
  const start = JSON.parse(h.out[0]!) as Extract<RunEvent, { type: 'run:start' }>;
  assert.deepEqual([start.dryRun, start.concurrency], [true, 3]);
  assert.deepEqual(loads[0], { extraVars: ['kube_log_level=4', '@extra.yml'], connection: { user: 'deploy', become: true }, cwd: h.cwd, strict: false });

  h.out.length = 0;
  const callsBefore = h.fleet.allCalls().length;
  const listing = new Command().exitOverride();
  registerApply(listing, h.deps.io, async () => deps);
  await listing.parseAsync(['apply', 'site', '-i', 'inventory/lab', '--list-hosts'], { from: 'user' });
  assert.match(h.out.join('\n'), /^play #1 \(all\): Configure\n  hosts \(4\):\n    node1$/m);
  h.out.length = 0;
  await listing.parseAsync(['apply', 'site', '-i', 'inventory/lab', '--list-tags'], { from: 'user' });
  assert.match(h.out.join('\n'), /^  TASK TAGS: \[.*\]$/m);
  assert.equal(h.fleet.allCalls().length, callsBefore, 'no host contacted');
});

test('the re-run argv carries the Ansible options, with -e @file and --private-key made absolute', async () => {
  const argv = commandArgv(options({ extraVars: ['a=1', '@vars/extra.yml'], connection: { user: 'deploy', become: true, privateKey: 'keys/id' }, diff: true, verbosity: 2 }), '/pb/site.yml', '/inv', '/work');
  assert.deepEqual(argv.slice(argv.indexOf('--concurrency') + 2), [
    '--extra-vars', 'a=1', '--extra-vars', '@/work/vars/extra.yml', '--user', 'deploy', '--become', '--private-key', '/work/keys/id', '--diff', '--verbose', '--verbose',
  ]);
});

test('a play with confirm: refused without a terminal (exit 2, no host touched); --yes, -e VAR=yes or a yes on the terminal go on', async () => {
  const h = await harness();
  await writeFile(path.join(h.cwd, 'playbooks', 'undo.yml'), '- name: Undo\n  hosts: all\n  confirm: undo_confirmation\n  roles: [app]\n');
  const refused = await runApplyCommand(options({ playbook: 'undo' }), h.deps).catch((err: unknown) => err);
  assert.ok(refused instanceof KprovError, String(refused));
  assert.equal(refused.code, 'usage');
  assert.match(refused.message, /^"Undo" on 4 host\(s\): node1, node2, node3, node4\. This cannot be undone\. Not confirmed: nothing was changed$/);
  assert.match(refused.hint!, /--yes, or -e undo_confirmation=yes/);
  assert.equal(h.fleet.connects.size, 0, 'no host was contacted');
  // A plan changes nothing, so it needs no confirmation.
  assert.equal(await runApplyCommand(options({ playbook: 'undo', dryRun: true }), h.deps), 0);

  const asked: string[] = [];
  const contacted = h.fleet.opened.length;
  const no = await runApplyCommand(options({ playbook: 'undo' }), { ...h.deps, askConfirmation: async (q) => (asked.push(q), false) }).catch((err: unknown) => err);
  assert.ok(no instanceof KprovError && /"Undo" not confirmed/.test(no.message));
  assert.match(asked[0]!, /node1, node2, node3, node4\. This cannot be undone\. Go on\?$/);
  assert.equal(h.fleet.opened.length, contacted, 'no host was contacted after a no');

  assert.equal(await runApplyCommand(options({ playbook: 'undo', yes: true }), h.deps), 0);
  assert.equal(await runApplyCommand(options({ playbook: 'undo', extraVars: ['undo_confirmation=yes'] }), h.deps), 0);
  assert.equal(await runApplyCommand(options({ playbook: 'undo' }), { ...h.deps, askConfirmation: async () => true }), 0);
});
