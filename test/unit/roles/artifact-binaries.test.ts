/**
 * artifactBinaries with `download_localhost: false`, on fake hosts: the host's own download is
 * run only when the host's record of what it installed (identity and sha256s) does not match;
 * a file of the artifact that differs is fetched again, notifying only its own task's handlers.
 * (The real script on real hosts: test/e2e/remote-fetch.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { resolveArtifacts, type ResolvedArtifact } from '../../../src/artifacts/resolve.js';
import { settingsFromVars } from '../../../src/artifacts/settings.js';
import { artifactBinaries } from '../../../src/cluster/artifact-binaries.js';
import type { ArtifactIndex } from '../../../src/cluster/artifact-index.js';
import type { Handler, Role } from '../../../src/engine/contract.js';
import type { ExecResult } from '../../../src/ssh/types.js';
import { FakeFleet, type FakeMachine } from '../../../dev/fake-fleet.js';
import { isReadAhead } from '../engine/fake-read-ahead.js';
import { makeInventory, runYaml } from '../engine/playbook-harness.js';

const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What the mirror serves, by URL: the files each download installs. */
type Mirror = Map<string, Record<string, string>>;

function resolved(version: string): ResolvedArtifact[] {
  const settings = settingsFromVars({ etcd_version: version, files_repo: 'http://10.0.0.1:8080', download_localhost: false });
  return resolveArtifacts(settings).filter((a) => a.id === 'etcd' || a.id === 'runc');
}

function index(artifacts: () => ResolvedArtifact[]): ArtifactIndex {
  return {
    filesFor: () => {
      throw new Error('the control host has no files in this mode');
    },
    warningsFor: () => [],
    fetchedBy: (_host, id) => artifacts().find((a) => a.id === id),
  };
}

/** The fetch script and the installed-files script, as a host would answer them. */
function hostScripts(m: FakeMachine, mirror: Mirror, fetched: string[]) {
  return (argv: readonly string[]): ExecResult | undefined => {
    if (argv[3] === 'kprov-fetch') {
      const url = argv[4]!;
      fetched.push(url);
      const files = mirror.get(url) ?? {};
      const lines = Object.entries(files).map(([p, content]) => {
        const same = m.files.get(p)?.content.toString() === content;
        if (!same) m.putFile(p, content, { mode: 0o755 });
        return `${same ? 'ok' : 'changed'} ${p}`;
      });
      return ok(`${lines.join('\n')}\n`);
    }
    if (argv[3] !== 'kprov-installed') return undefined;
    const line = (p: string) => {
      const f = m.files.get(p);
      return f ? `${sha(f.content)} ${f.mode.toString(8)} ${p}` : `missing - ${p}`;
    };
    if (argv[4] === 'hash') return ok(`${argv.slice(5).map(line).join('\n')}\n`);
    const manifest = m.files.get(argv[5]!)?.content.toString();
    if (manifest === undefined) return ok();
    const listed = manifest.trim().split('\n').slice(2).map((l) => l.split(' ').slice(2).join(' '));
    return ok(`${manifest}--- current\n${listed.map(line).join('\n')}\n`);
  };
}

test('download_localhost: false: fetched once, a no-op after, a changed file fetched again notifying only its task', async () => {
  let version = 'v3.4.23';
  const mirror: Mirror = new Map();
  const publish = (v: string) => {
    for (const a of resolved(v)) {
      mirror.set(a.url, a.id === 'etcd' ? { '/usr/local/bin/etcd': `etcd ${v}\n`, '/usr/local/bin/etcdctl': `etcdctl ${v}\n` } : { '/usr/local/bin/runc': 'runc\n' });
    }
  };
  publish('v3.4.23');
  publish('v3.4.24');
  const restarts: string[] = [];
  const restartEtcd: Handler = { name: 'restart etcd', async run(host) { restarts.push(host.name); } };
  const role: Role = {
    name: 'bins',
    taskTags: ['download'],
    handlers: [restartEtcd],
    tasks: () => [
      artifactBinaries({ name: 'etcd binary', artifact: 'etcd', files: (n) => n === 'etcd', notify: ['restart etcd'] }),
      artifactBinaries({ name: 'etcdctl binary', artifact: 'etcd', files: (n) => n !== 'etcd' }),
      artifactBinaries({ name: 'runc binary', artifact: 'runc', expect: ['/usr/local/bin/runc'] }),
    ],
  };
  const fleet = new FakeFleet(['node1']);
  const m = fleet.machine('node1');
  const fetched: string[] = [];
  m.script = hostScripts(m, mirror, fetched);
  const run = { artifacts: () => Promise.resolve(index(() => resolved(version))) };
  const play = async () => runYaml('- name: p\n  hosts: all\n  roles: [bins]\n', { inventory: makeInventory(['node1']), roles: [role], fleet, run });
  const changed = (r: Awaited<ReturnType<typeof play>>) => r.of('task:finish').filter((e) => e.status === 'changed').map((e) => e.task);

  const first = await play();
  assert.equal(first.result.status, 'ok', JSON.stringify(first.of('host:finish').map((e) => e.error)));
  assert.deepEqual(changed(first), ['etcd binary', 'runc binary'], 'etcdctl came with etcd\'s download');
  assert.equal(fetched.length, 2);
  assert.match(first.of('task:finish')[0]!.changes[0]!.summary, /^download, verify and install etcd v3\.4\.23 \(amd64\) on the host \(not installed by kprov yet\)$/);
  assert.match(m.files.get('/var/lib/kprov/artifacts/etcd.manifest')!.content.toString(), /^kprov installed artifact v1\nidentity [0-9a-f]{64}\n[0-9a-f]{64} 755 \/usr\/local\/bin\/etcd\n/);
  assert.equal(m.bytesUploaded, 0, 'no binary went over SSH');
  assert.deepEqual(restarts.splice(0), ['node1'], 'a new etcd notifies its restart');

  m.calls.length = 0;
  const again = await play();
  assert.deepEqual(changed(again), []);
  assert.equal(fetched.length, 2, 'nothing downloaded');
  assert.deepEqual(m.calls.filter((c) => c.method !== 'close').map((c) => (isReadAhead(c.argv) ? 'read-ahead' : c.argv?.join(' '))), ['read-ahead']);

  // etcdctl replaced on the host: fetched again; etcd itself did not change, so no restart.
  m.putFile('/usr/local/bin/etcdctl', 'tampered\n', { mode: 0o755 });
  const repaired = await play();
  assert.deepEqual(changed(repaired), ['etcdctl binary']);
  assert.match(repaired.of('task:finish')[1]!.changes[0]!.summary, /\(\/usr\/local\/bin\/etcdctl is not the file that was installed\)$/);
  assert.equal(m.files.get('/usr/local/bin/etcdctl')!.content.toString(), 'etcdctl v3.4.23\n');
  assert.deepEqual(restarts, []);

  // A new release: a different identity, fetched, and etcd's restart notified.
  version = 'v3.4.24';
  const upgraded = await play();
  assert.deepEqual(changed(upgraded), ['etcd binary']);
  assert.match(upgraded.of('task:finish')[0]!.changes[0]!.summary, /\(a different release or source is installed\)$/);
  assert.equal(m.files.get('/usr/local/bin/etcd')!.content.toString(), 'etcd v3.4.24\n');
  assert.deepEqual(restarts, ['node1']);
});

test('download_localhost: false: a download without a file the roles need fails, naming it', async () => {
  const [runc] = resolved('v3.4.23').filter((a) => a.id === 'runc');
  const mirror: Mirror = new Map([[runc!.url, { '/usr/local/bin/runc-renamed': 'runc\n' }]]);
  const fleet = new FakeFleet(['node1']);
  const m = fleet.machine('node1');
  m.script = hostScripts(m, mirror, []);
  const role: Role = { name: 'bins', taskTags: ['download'], tasks: () => [artifactBinaries({ name: 'runc binary', artifact: 'runc', expect: ['/usr/local/bin/runc'] })] };
  const run = await runYaml('- name: p\n  hosts: all\n  roles: [bins]\n', {
    inventory: makeInventory(['node1']),
    roles: [role],
    fleet,
    run: { artifacts: () => Promise.resolve(index(() => [runc!])) },
  });
  assert.equal(run.result.status, 'failed');
  assert.match(run.of('host:finish')[0]!.error!.message, /installs no \/usr\/local\/bin\/runc \(it installed \/usr\/local\/bin\/runc-renamed\)$/);
});
