import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { initInventory } from '../../../src/inventory/scaffold.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { writeLabFiles, type LabFile } from '../../../src/lab/lab-files.js';
import { registryListen } from '../../../src/lab/names.js';
import { candidateVersion, registryCacheName } from '../../../src/lab/registry-binary.js';
import { REGISTRY_ENV, registryConfig } from '../../../src/lab/registry-config.js';
import { LAB_MIRRORED_REGISTRIES, registryUrl } from '../../../src/lab/registry.js';
import { sandboxImage } from '../../../src/roles/runtime/containerd.js';

test('the registry config: plain HTTP on the bridge address, storage in the lab, no auth, nothing inherited', () => {
  const text = registryConfig({ listen: registryListen(), storageDir: '/var/lib/kprov-lab/labs/a/registry', secret: 's3cret' });
  assert.match(text, /^# Written by kprov lab up/);
  const config = parse(text) as Record<string, Record<string, unknown>>;
  assert.equal(config['version'], 0.1);
  assert.deepEqual(config['storage']!['filesystem'], { rootdirectory: '/var/lib/kprov-lab/labs/a/registry' });
  assert.equal(config['http']!['addr'], '10.213.0.1:5000');
  assert.equal(config['http']!['secret'], 's3cret');
  for (const absent of ['auth', 'proxy', 'notifications', 'redis']) assert.equal(config[absent], undefined, absent);
  assert.equal(config['http']!['tls'], undefined);
  assert.equal(config['http']!['debug'], undefined, 'no second listener');
  // REGISTRY_HTTP_ADDR & co. in kprov's environment would override the file.
  assert.deepEqual(Object.keys(REGISTRY_ENV), ['PATH']);
  assert.equal(registryUrl(registryListen()), 'http://10.213.0.1:5000');
});

test("the registry program's version comes from apt's lists; its cache directory is named by it", () => {
  const show = 'Package: docker-registry\nVersion: 2.8.2+ds1-1\nArchitecture: amd64\n';
  assert.equal(candidateVersion(show), '2.8.2+ds1-1');
  assert.equal(candidateVersion('N: Unable to locate package docker-registry\n'), undefined);
  assert.equal(registryCacheName('2.8.2+ds1-1'), 'docker-registry-2.8.2+ds1-1');
  assert.equal(registryCacheName('1:2.8.2/x'), 'docker-registry-1_2.8.2_x');
});

test("lab up's inventory sends every image the lab serves to its registry, and restricts OOM scores", async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-lab-inv-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await initInventory(dir, { hosts: '10.213.0.11,10.213.0.12' });
  const lab: LabFile = {
    name: 'lab',
    namespace: 'kprov-lab',
    bridgeAddress: '10.213.0.1',
    subnet: '10.213.0.0/24',
    mirrorUrl: 'http://10.213.0.1:8080/',
    mirrorRoot: '/m',
    registryUrl: 'http://10.213.0.1:5000',
    hosts: [],
  };
  await writeLabFiles(dir, lab, 'pw');
  const vars = (await loadInventory(dir)).hostVars('node2');
  assert.deepEqual(LAB_MIRRORED_REGISTRIES, ['docker.io', 'k8s.gcr.io', 'quay.io', 'registry.k8s.io']);
  assert.deepEqual(vars.containerd_registries, Object.fromEntries(LAB_MIRRORED_REGISTRIES.map((r) => [r, ['http://10.213.0.1:5000']])));
  assert.equal(vars.containerd_restrict_oom_score_adj, true);
  // The sandbox image is still named upstream; the mirror config is what finds it in the lab.
  assert.equal(sandboxImage(vars), 'k8s.gcr.io/pause:3.1');
  assert.equal(vars.files_repo, 'http://10.213.0.1:8080');
});
