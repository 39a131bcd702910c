/** Kubeconfig resolution as client-go does it: relative paths, embedded data, --master, identity. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadKubeconfig } from '../../../dev/standin/common/kubeconfig.js';
import { StandinError } from '../../../dev/standin/common/errors.js';
import { TestPki, writeKubeconfig, type CertFiles } from './support/pki.js';

let dir: string;
let ca: CertFiles;
let node: CertFiles;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kprov-si-kubeconfig-'));
  const pki = await TestPki.create(path.join(dir, 'pki'));
  ca = await pki.ca('ca', 'kubernetes');
  node = await pki.issue(ca, 'n1', { cn: 'system:node:n1', o: ['system:nodes', 'extra'], usage: 'client' });
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('relative certificate paths resolve against the kubeconfig\'s directory; CN/O become the identity', async () => {
  const file = path.join(dir, 'pki', 'relative.conf');
  await writeFile(
    file,
    toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      clusters: [{ name: 'k', cluster: { server: 'https://10.0.0.1:6443', 'certificate-authority': 'ca.crt' } }],
      users: [{ name: 'u', user: { 'client-certificate': 'n1.crt', 'client-key': 'n1.key' } }],
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    }),
  );
  const cfg = loadKubeconfig('--kubeconfig', file);
  assert.equal(cfg.server.href, 'https://10.0.0.1:6443/');
  assert.deepEqual(cfg.certIdentity, { user: 'system:node:n1', groups: ['system:nodes', 'extra'] });
  assert.equal(loadKubeconfig('--kubeconfig', file, 'https://127.0.0.1:6443').server.host, '127.0.0.1:6443', '--master wins');
});

test('embedded data works the same; a missing server is an error naming the file', async () => {
  const embedded = await writeKubeconfig(path.join(dir, 'embedded.conf'), { server: 'https://127.0.0.1:6443', ca: ca.cert, client: node, embed: true });
  assert.equal(loadKubeconfig('--kubeconfig', embedded).certIdentity?.user, 'system:node:n1');
  const noServer = path.join(dir, 'no-server.conf');
  await writeFile(noServer, toYaml({ apiVersion: 'v1', kind: 'Config', 'current-context': 'c', clusters: [{ name: 'k', cluster: {} }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }] }));
  assert.throws(() => loadKubeconfig('--kubeconfig', noServer), (e: unknown) => e instanceof StandinError && e.message === `--kubeconfig=${noServer}: invalid configuration: no server found for cluster "k"`);
});
