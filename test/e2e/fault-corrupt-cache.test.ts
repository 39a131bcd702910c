/**
 * Fault: a corrupt file in the control host's artifact cache. On a 2-host lab (node1 control
 * plane + etcd + node, node2 a worker), with a cache of the test's own ($XDG_CACHE_HOME):
 *   1. a cluster is applied; the cache holds the kubelet, stamped as checked;
 *   2. one byte of the cached kubelet is flipped (same size, so only its content gives it away)
 *      and node2's /usr/local/bin/kubelet is deleted, so the next apply must send it;
 *   3. that apply finds the blob no longer hashes to its name, says so, deletes it, fetches the
 *      kubelet again from the lab mirror, verifies it and sends the right bytes: exit 0, node2's
 *      kubelet has the release's sha256 and was restarted after it arrived (running its unit
 *      file's command line), both nodes are Ready (real kubectl); node1, whose kubelet was
 *      intact, is sent nothing;
 *   4. the next apply changes nothing: no upload, no restart, no warning.
 * Times are printed (`measured:`) for docs/reliability.md.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startClusterLab, type ClusterLab } from '../../dev/cluster-lab.js';
import type { RunEvent } from '../../src/engine/events.js';
import { readLabState } from '../../src/lab/state.js';
import { labSkipReason } from '../support/lab.js';
import { jsonEvents, runLog } from '../support/kprov-process.js';
import { eventsOf } from '../support/run-events.js';
import { commandLineMismatch, unitCommandLine } from '../support/unit-cmdline.js';
import { HOST_KUBECTL as KUBECTL } from '../support/converged.js';

const NAME = 'e2e-fcache';
const HOSTS = ['node1', 'node2'];
const TARGET = 'node2';
const KUBELET = '/usr/local/bin/kubelet';
const RUN_TIMEOUT_MS = 400_000;

const of = eventsOf;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const loadavg = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
const sha256Of = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

interface Applied {
  code: number;
  events: RunEvent[];
  ms: number;
  stdout: string;
  output: string;
}

describe('fault: a corrupt kubelet in the artifact cache', { skip: labSkipReason(), concurrency: false }, () => {
  let lab: ClusterLab;
  let xdg: string;
  /** The kubelet's published sha256, from the release the lab mirror serves. */
  let pinned: string;
  let kubeletUrlPath: string;
  const measured: string[] = [];

  before(async () => {
    xdg = await mkdtemp(path.join(tmpdir(), 'kprov-fcache-xdg-'));
    lab = await startClusterLab({ name: NAME, hosts: HOSTS.length });
    const kubelet = lab.release.artifacts.find((a) => a.name === 'kubelet');
    assert.ok(kubelet, 'the release has a kubelet');
    pinned = kubelet.sha256;
    kubeletUrlPath = `/${kubelet.urlPath}`;
    const ips = Object.fromEntries(lab.hosts.map((h) => [h.name, h.address]));
    const line = (h: string) => `${h} ansible_host=${ips[h]} ip=${ips[h]} access_ip=${ips[h]}`;
    await writeFile(
      path.join(lab.inventoryDir, 'inventory.ini'),
      `[all]\n${HOSTS.map(line).join('\n')}\n\n[kube_control_plane]\nnode1\n\n[etcd]\nnode1\n\n[kube_node]\nnode1\nnode2\n\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`,
    );
  });
  after(async () => {
    await lab?.stop();
    if (xdg) await rm(xdg, { recursive: true, force: true });
    for (const line of measured) console.log(`measured: ${line}`);
  });

  const cacheDir = () => path.join(xdg, 'kprov');
  const blob = () => path.join(cacheDir(), 'sha256', pinned);

  /** `kprov apply cluster` with the test's own cache; --json unless `human`. */
  async function apply(human = false): Promise<Applied> {
    const started = Date.now();
    const r = await lab.kprov(['apply', 'cluster', '-i', lab.inventoryDir, ...(human ? [] : ['--json'])], {
      timeoutMs: RUN_TIMEOUT_MS,
      env: { ...process.env, XDG_CACHE_HOME: xdg },
    });
    const events = human ? await runLog(lab.inventoryDir) : jsonEvents(r.stdout);
    return { code: r.code, events, ms: Date.now() - started, stdout: r.stdout, output: `${r.stdout.slice(-3000)}\n${r.stderr}` };
  }

  async function sh(host: string, script: string): Promise<string> {
    const r = await lab.exec(host, ['sh', '-c', script], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `${host}: ${script}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** How often the lab mirror has served the kubelet (its request log: `GET PATH STATUS BYTES`). */
  async function kubeletFetches(): Promise<number> {
    const log = (await readLabState(NAME))?.mirror?.log;
    assert.ok(log, 'the lab state records the mirror log');
    const text = await readFile(log, 'utf8');
    return text.split('\n').filter((l) => l.startsWith(`GET ${kubeletUrlPath} 200 `)).length;
  }

  test('a cluster applied with a cache of its own holds the kubelet, checked', { timeout: RUN_TIMEOUT_MS }, async () => {
    const first = await apply();
    assert.equal(first.code, 0, first.output);
    measured.push(`fresh apply of the 2-host lab: ${seconds(first.ms)} (load ${await loadavg()})`);
    assert.equal(await sha256Of(blob()), pinned, 'the cached kubelet is the release\'s');
    assert.ok((await readdir(path.join(cacheDir(), 'checked'))).includes(`${pinned}.json`), 'and stamped as checked');
  });

  test('a flipped byte in the cached kubelet: detected, said, fetched again, verified, and the right file sent', { timeout: RUN_TIMEOUT_MS }, async () => {
    const file = await open(blob(), 'r+');
    try {
      const { size } = await file.stat();
      const at = Math.floor(size / 2);
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, at);
      byte[0] = byte[0]! ^ 0xff;
      await file.write(byte, 0, 1, at);
    } finally {
      await file.close();
    }
    const corrupt = await sha256Of(blob());
    assert.notEqual(corrupt, pinned);
    await sh(TARGET, `rm -- ${KUBELET}`);
    const invocation = async () => (await sh(TARGET, 'systemctl show -p InvocationID --value kubelet')).trim();
    const kubeletBefore = await invocation();
    const fetchesBefore = await kubeletFetches();

    const repaired = await apply(true);
    assert.equal(repaired.code, 0, repaired.output);
    measured.push(`apply with the cached kubelet corrupt and ${TARGET}'s kubelet deleted: ${seconds(repaired.ms)}, exit 0 (load ${await loadavg()})`);

    // Said on every host that receives the kubelet, in the output and in the run log.
    const said = `kubelet v1.13.5 (amd64): cache entry ${blob()} was corrupt (sha256 ${corrupt}); fetched again`;
    const warnings = of(repaired.events, 'warning').filter((w) => w.message === said);
    assert.deepEqual(warnings.map((w) => w.host).sort(), HOSTS, JSON.stringify(of(repaired.events, 'warning')));
    assert.ok(repaired.stdout.includes(said), `the output says it:\n${repaired.stdout.slice(-3000)}`);
    measured.push(`warning: ${said}`);

    // Fetched again from the mirror, once, and verified back into the cache.
    assert.equal((await kubeletFetches()) - fetchesBefore, 1, 'the mirror served the kubelet once more');
    assert.equal(await sha256Of(blob()), pinned, 'the cache holds the right kubelet again');

    // Only node2 is sent the kubelet, and restarts it.
    const changed = of(repaired.events, 'task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host} ${e.task}`);
    assert.deepEqual(changed, [`${TARGET} kubelet binary`]);
    const restarts = of(repaired.events, 'handler:finish').map((e) => `${e.host} ${e.handler} ${e.status}`);
    assert.deepEqual(restarts, [`${TARGET} restart kubelet changed`]);

    assert.equal((await sh(TARGET, `sha256sum ${KUBELET}`)).split(/\s+/)[0], pinned, `${TARGET}'s kubelet is the release's`);
    assert.equal((await sh(TARGET, 'systemctl is-active kubelet')).trim(), 'active');
    const kubelet = await unitCommandLine(lab, TARGET, 'kubelet');
    assert.equal(commandLineMismatch(kubelet), undefined);
    assert.notEqual(await invocation(), kubeletBefore, 'the kubelet running now was started after the file was sent');
    const nodes = await sh('node1', `${KUBECTL.join(' ')} get nodes --no-headers`);
    assert.deepEqual(nodes.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' ')).sort(), HOSTS.map((h) => `${h} Ready`));
  });

  test('the next apply changes nothing: no upload, no restart, no warning', { timeout: RUN_TIMEOUT_MS }, async () => {
    const fetchesBefore = await kubeletFetches();
    const next = await apply();
    assert.equal(next.code, 0, next.output);
    assert.deepEqual(of(next.events, 'task:finish').filter((e) => e.status === 'changed').map((e) => `${e.host} ${e.task}`), []);
    assert.deepEqual(next.events.filter((e) => e.type.startsWith('handler')), []);
    assert.deepEqual(of(next.events, 'warning').map((w) => w.message), []);
    assert.equal(await kubeletFetches(), fetchesBefore, 'nothing fetched');
    measured.push(`next apply (no changes, no upload, no restart): ${seconds(next.ms)}`);
  });
});
