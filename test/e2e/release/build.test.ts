/**
 * The stand-in release tree: upstream layouts and checksum formats, true versions of the real
 * binaries (run from the tree), reproducible archives, and a fast cached rebuild.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { digests } from '../../../dev/release/archive.js';
import { buildStandinRelease, kubeVersionPins, type ReleaseManifest } from '../../../dev/release/build.js';
import { upstreamVersionOf } from '../../../dev/release/debs.js';

let work: string;
let tree: string;
let manifest: ReleaseManifest;
let firstBuildMs: number;

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'kprov-release-'));
  tree = path.join(work, 'tree');
  const started = Date.now();
  manifest = await buildStandinRelease({ outDir: tree, kubeVersion: 'v1.13.5' });
  firstBuildMs = Date.now() - started;
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

const byName = (name: string) => {
  const a = manifest.artifacts.find((x) => x.name === name);
  assert.ok(a, `manifest has ${name}`);
  return a;
};
const read = (rel: string) => readFile(path.join(tree, rel), 'utf8');

test('Debian versions map to the upstream release inside them', () => {
  assert.equal(upstreamVersionOf('1.20.5+really1.20.2-1.1+deb12u1'), '1.20.2');
  assert.equal(upstreamVersionOf('1.6.20~ds1-1+deb12u3'), '1.6.20');
  assert.equal(upstreamVersionOf('3.4.23-4+b4'), '3.4.23');
  assert.equal(upstreamVersionOf('1.1.1+ds1-3+b5'), '1.1.1');
  assert.equal(upstreamVersionOf('1:2.3.4-1'), '2.3.4');
});

test('the manifest pins every artifact at its upstream URL path, version and sha256', async () => {
  assert.equal(manifest.kubeVersion, 'v1.13.5');
  const expected: Record<string, [string, string]> = {
    'kube-apiserver': ['v1.13.5', 'dl.k8s.io/release/v1.13.5/bin/linux/amd64/kube-apiserver'],
    'kube-controller-manager': ['v1.13.5', 'dl.k8s.io/release/v1.13.5/bin/linux/amd64/kube-controller-manager'],
    'kube-scheduler': ['v1.13.5', 'dl.k8s.io/release/v1.13.5/bin/linux/amd64/kube-scheduler'],
    kubelet: ['v1.13.5', 'dl.k8s.io/release/v1.13.5/bin/linux/amd64/kubelet'],
    'kube-proxy': ['v1.13.5', 'dl.k8s.io/release/v1.13.5/bin/linux/amd64/kube-proxy'],
    etcd: ['v3.4.23', 'github.com/etcd-io/etcd/releases/download/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz'],
    containerd: ['v1.6.20', 'github.com/containerd/containerd/releases/download/v1.6.20/containerd-1.6.20-linux-amd64.tar.gz'],
    runc: ['v1.1.5', 'github.com/opencontainers/runc/releases/download/v1.1.5/runc.amd64'],
    cni: ['v1.1.1', 'github.com/containernetworking/plugins/releases/download/v1.1.1/cni-plugins-linux-amd64-v1.1.1.tgz'],
    kubectl: ['v1.20.2', 'dl.k8s.io/release/v1.20.2/bin/linux/amd64/kubectl'],
  };
  assert.deepEqual(manifest.artifacts.map((a) => a.name).sort(), Object.keys(expected).sort());
  for (const [name, [version, urlPath]] of Object.entries(expected)) {
    const a = byName(name);
    assert.equal(a.version, version, name);
    assert.equal(a.urlPath, urlPath, name);
    assert.equal((await digests(path.join(tree, urlPath), ['sha256'])).sha256, a.sha256, name);
    if (!['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy'].includes(name)) assert.match(a.source, /^debian:/);
  }
});

test('checksum files have the formats upstream publishes', async () => {
  for (const name of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy']) {
    const rel = byName(name).urlPath;
    const sums = await digests(path.join(tree, rel), ['sha512', 'sha1', 'md5']);
    for (const algo of ['sha512', 'sha1', 'md5'] as const) assert.equal(await read(`${rel}.${algo}`), sums[algo], `${name}.${algo} is the bare hex digest`);
    assert.ok(!existsSync(path.join(tree, `${rel}.sha256`)), 'v1.13 published no .sha256');
  }
  const kubectl = byName('kubectl');
  assert.equal(await read(`${kubectl.urlPath}.sha256`), kubectl.sha256);
  assert.match(await read(`${kubectl.urlPath}.sha512`), /^[0-9a-f]{128}$/);
  const etcd = byName('etcd');
  assert.equal(await read('github.com/etcd-io/etcd/releases/download/v3.4.23/SHA256SUMS'), `${etcd.sha256}  etcd-v3.4.23-linux-amd64.tar.gz\n`);
  assert.equal(await read(`${byName('containerd').urlPath}.sha256sum`), `${byName('containerd').sha256}  containerd-1.6.20-linux-amd64.tar.gz\n`);
  assert.equal(await read('github.com/opencontainers/runc/releases/download/v1.1.5/runc.sha256sum'), `${byName('runc').sha256}  runc.amd64\n`);
  const cni = byName('cni');
  assert.equal(await read(`${cni.urlPath}.sha256`), `${cni.sha256}  cni-plugins-linux-amd64-v1.1.1.tgz\n`);
  const sha512 = (await digests(path.join(tree, cni.urlPath), ['sha512'])).sha512;
  assert.equal(await read(`${cni.urlPath}.sha512`), `${sha512}  cni-plugins-linux-amd64-v1.1.1.tgz\n`);
  // sha256sum itself accepts the line formats.
  const check = await execa('sha256sum', ['-c', 'SHA256SUMS'], { cwd: path.join(tree, 'github.com/etcd-io/etcd/releases/download/v3.4.23'), reject: false });
  assert.equal(check.exitCode, 0, String(check.stderr));
});

test('archives have the upstream layouts and the binaries in them are what they claim', async () => {
  const list = async (rel: string) => (await execa('tar', ['tzf', path.join(tree, rel)])).stdout.split('\n');
  assert.deepEqual((await list(byName('etcd').urlPath)).filter((e) => !e.endsWith('/')), ['etcd-v3.4.23-linux-amd64/etcd', 'etcd-v3.4.23-linux-amd64/etcdctl']);
  const containerd = await list(byName('containerd').urlPath);
  for (const bin of ['bin/containerd', 'bin/containerd-shim-runc-v2', 'bin/ctr']) assert.ok(containerd.includes(bin), bin);
  const cni = await list(byName('cni').urlPath);
  for (const plugin of ['./bridge', './host-local', './loopback', './portmap']) assert.ok(cni.includes(plugin), plugin);

  const unpacked = path.join(work, 'unpacked');
  await execa('mkdir', ['-p', unpacked]);
  await execa('tar', ['xzf', path.join(tree, byName('etcd').urlPath), '-C', unpacked]);
  assert.match((await execa(path.join(unpacked, 'etcd-v3.4.23-linux-amd64/etcd'), ['--version'])).stdout, /etcd Version: 3\.4\.23/);
  assert.match((await execa(path.join(unpacked, 'etcd-v3.4.23-linux-amd64/etcdctl'), ['version'])).stdout, /etcdctl version: 3\.4\.23/);
  await execa('tar', ['xzf', path.join(tree, byName('containerd').urlPath), '-C', unpacked]);
  assert.match((await execa(path.join(unpacked, 'bin/containerd'), ['--version'])).stdout, /1\.6\.20/);
  assert.match((await execa(path.join(tree, byName('runc').urlPath), ['--version'])).stdout, /runc version 1\.1\.5/);
  assert.match((await execa(path.join(tree, byName('kubectl').urlPath), ['version', '--client', '--short'])).stdout, /v1\.20\.2/);
  const apiserver = path.join(tree, byName('kube-apiserver').urlPath);
  assert.equal((await stat(apiserver)).mode & 0o777, 0o755);
  assert.equal((await readFile(apiserver, 'utf8')).split('\n')[0], '#!/usr/bin/env node');
  assert.equal((await execa(apiserver, ['--version'])).stdout, 'Kubernetes v1.13.5');
});

test('a rebuild with unchanged inputs reuses everything; a rebuilt archive has identical bytes', async () => {
  const tarball = path.join(tree, byName('containerd').urlPath);
  const before = (await stat(tarball)).mtimeMs;
  const started = Date.now();
  const again = await buildStandinRelease({ outDir: tree, kubeVersion: 'v1.13.5' });
  const rebuildMs = Date.now() - started;
  assert.deepEqual(again, manifest);
  assert.equal((await stat(tarball)).mtimeMs, before, 'the cached archive was not rewritten');
  assert.ok(rebuildMs < firstBuildMs * 0.75, `rebuild took ${rebuildMs} ms (first build ${firstBuildMs} ms)`);

  // Through the CLI entry, after deleting one archive: it is rebuilt to the same bytes, so
  // checksums pinned in an inventory hold across rebuilds.
  const etcdTar = path.join(tree, byName('etcd').urlPath);
  await rm(etcdTar);
  const manifestFile = path.join(work, 'manifest.json');
  const cli = await execa(process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dev', 'release', 'build.js'), '--out', tree, '--manifest', manifestFile], { reject: false, timeout: 120_000 });
  assert.equal(cli.exitCode, 0, String(cli.stderr));
  const fromCli = JSON.parse(String(cli.stdout)) as ReleaseManifest;
  assert.deepEqual(JSON.parse(await readFile(manifestFile, 'utf8')), fromCli);
  assert.ok(existsSync(etcdTar));
  assert.deepEqual(fromCli, manifest);
});

test('a second patch version is served next to the first: the same stand-ins, only the version they report differing', async () => {
  const both = await buildStandinRelease({ outDir: tree, kubeVersion: 'v1.13.5', alsoKubeVersions: ['v1.13.6'] });
  assert.deepEqual(Object.keys(both.kubeReleases), ['v1.13.5', 'v1.13.6']);
  assert.deepEqual(both.artifacts, manifest.artifacts, 'the first version is what it was');
  for (const a of both.kubeReleases['v1.13.6']!) {
    const file = path.join(tree, a.urlPath);
    assert.equal(a.urlPath, `dl.k8s.io/release/v1.13.6/bin/linux/amd64/${a.name}`);
    const first = path.join(tree, both.kubeReleases['v1.13.5']!.find((x) => x.name === a.name)!.urlPath);
    // Byte for byte the same but for the version string (one digit).
    const [x, y] = [await readFile(first), await readFile(file)];
    assert.equal(x.length, y.length, a.name);
    const differ = [...x.keys()].filter((i) => x[i] !== y[i]);
    assert.ok(differ.length >= 1 && differ.length <= 4, `${a.name}: ${differ.length} byte(s) differ`);
    for (const i of differ) assert.deepEqual([String.fromCharCode(x[i]!), y.subarray(i - 6, i + 1).toString()], ['5', 'v1.13.6'], a.name);
    assert.ok(existsSync(`${file}.sha512`));
  }
  const kubelet = path.join(tree, both.kubeReleases['v1.13.6']!.find((a) => a.name === 'kubelet')!.urlPath);
  assert.equal((await execa(kubelet, ['--version'])).stdout, 'Kubernetes v1.13.6');
  const pins = kubeVersionPins(both, 'v1.13.6');
  assert.equal(pins['kube_version'], 'v1.13.6');
  assert.match(pins['kubelet_checksum'] ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.throws(() => kubeVersionPins(both, 'v1.13.7'), /serves no v1\.13\.7/);
});
