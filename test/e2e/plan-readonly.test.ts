/**
 * `kprov plan cluster` modifies nothing on any host. Three fresh cluster-lab hosts get the
 * cluster key (the one play that must change them before a plan can log in with it), then every
 * file under /etc, /usr/local, /var/lib, /opt and /root is listed (type, mode, owner, size,
 * inode, mtime, link target) and hashed, before and after the plan: the two snapshots must be
 * identical. The plan itself must list each host's changes with diffs, secrets masked.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { startClusterLab, type ClusterLab } from '../../dev/cluster-lab.js';
import { labSkipReason } from '../support/lab.js';

const NAME = 'e2e-planro';
const skip = labSkipReason();

// Snapshot roots and the volatile paths left out of them (systemd's timer stamps change on their
// own; /proc, /sys, /run and the journal are not under the roots at all).
const ROOTS = ['/etc', '/usr/local', '/var/lib', '/opt', '/root'];
const VOLATILE = ['/var/lib/systemd/timers'];

/**
 * One line per path (path first, so a difference reads well), then a sha256 per regular file.
 * Inode and mtime are included: an atomic rewrite with equal content would still show.
 */
const SNAPSHOT_SCRIPT = `
roots=""; for d in ${ROOTS.join(' ')}; do [ -e "$d" ] && roots="$roots $d"; done
prune='${VOLATILE.map((p) => `-path ${p}`).join(' -o ')}'
find $roots \\( $prune \\) -prune -o -printf '%p %y %#m %u:%g %s inode=%i mtime=%T@ %l\\n' | LC_ALL=C sort
find $roots \\( $prune \\) -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
`;

describe('kprov plan cluster is read-only', { skip, concurrency: false }, () => {
  let lab: ClusterLab;

  before(async () => {
    lab = await startClusterLab({ name: NAME, hosts: 3 });
  });
  after(async () => {
    await lab?.stop();
  });

  async function snapshot(host: string): Promise<string> {
    const r = await lab.exec(host, ['sh', '-c', SNAPSHOT_SCRIPT], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `snapshot of ${host} failed: ${r.stderr}`);
    return r.stdout;
  }

  test('after key distribution, a plan leaves every host byte-identical and shows masked diffs per host', async () => {
    const keys = await lab.kprov(['apply', 'cluster', '-i', lab.inventoryDir, '--tags', 'ssh-keys'], { timeoutMs: 120_000 });
    assert.equal(keys.code, 0, keys.stdout + keys.stderr);

    const names = lab.hosts.map((h) => h.name);
    const before = await Promise.all(names.map(snapshot));
    for (const s of before) assert.ok(s.split('\n').length > 1000, 'the snapshot covers the hosts\' files');

    const plan = await lab.kprov(['plan', 'cluster', '-i', lab.inventoryDir], { timeoutMs: 300_000 });
    const after = await Promise.all(names.map(snapshot));
    assert.equal(plan.code, 0, `plan failed:\n${plan.stdout}\n${plan.stderr}`);

    for (const [i, host] of names.entries()) {
      if (before[i] === after[i]) continue;
      const was = new Set(before[i]!.split('\n'));
      const now = new Set(after[i]!.split('\n'));
      const lines = [...[...was].filter((l) => !now.has(l)).map((l) => `- ${l}`), ...[...now].filter((l) => !was.has(l)).map((l) => `+ ${l}`)];
      assert.fail(`the plan modified ${host}:\n${lines.slice(0, 40).join('\n')}`);
    }

    // The plan, grouped by host: every host has changes, with unified diffs for new files.
    const out = plan.stdout;
    assert.match(out, /^PLAN \(dry run: nothing was changed on any host\)$/m);
    for (const host of names) assert.match(out, new RegExp(`^${host}: \\d+ changes$`, 'm'), `${host} has its own section with changes`);
    assert.match(out, /^ {6}\+\+\+ \/\S+/m, 'file changes carry diffs');
    assert.match(out, /^ {6}@@ -0,0 \+1,\d+ @@/m, 'a new file shows its content as a hunk');
    assert.match(out, /plan: 3 host\(s\) would change; nothing was modified/);

    // Secrets: key files show sizes only, and no private key or key data appears anywhere.
    assert.match(out, /@@ secret content not shown \(absent → \d+ bytes\) @@/, 'key files are shown as sizes only');
    const runLog = await latestRunLog(lab.inventoryDir);
    for (const [what, text] of [['plan output', out + plan.stderr], ['run log', runLog]] as const) {
      assert.deepEqual(unmaskedKeyBlocks(text), [], `${what} carries no private key`);
      assert.doesNotMatch(text, /(client-key-data|password|token):\s*(?!\*{8})[A-Za-z0-9+/=]{16,}/, `${what} carries no secret value`);
      for (const secret of await localSecrets(lab.inventoryDir)) {
        assert.ok(!text.includes(secret), `${what} contains a line of a local private key`);
      }
    }
  });
});

/** Private-key PEM headers not followed (on the next line, plain or JSON-escaped) by the mask. */
function unmaskedKeyBlocks(text: string): string[] {
  return [...text.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----((?:\\n|\n)[ +-]*)?(.{0,8})/g)]
    .filter((m) => m[2] !== '********')
    .map((m) => m[0]);
}

/** The newest run log (the plan's). */
async function latestRunLog(inventoryDir: string): Promise<string> {
  const dir = path.join(inventoryDir, 'runs');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jsonl')).sort();
  assert.ok(files.length > 0, 'the plan wrote a run log');
  return readFile(path.join(dir, files.at(-1)!), 'utf8');
}

/** Base64 body lines of every private key kprov keeps locally (PKI, cluster SSH key). */
async function localSecrets(inventoryDir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(inventoryDir, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile() || e.parentPath.includes(`${path.sep}runs`)) continue;
    const text = await readFile(path.join(e.parentPath, e.name), 'utf8').catch(() => '');
    for (const block of text.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----\n([\s\S]*?)-----END/g)) {
      out.push(...block[1]!.split('\n').filter((l) => l.length >= 40));
    }
  }
  return out;
}
