import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planArtifacts } from '../../../src/artifacts/needs.js';
import { rebase, resolveArtifacts, type ResolvedArtifact } from '../../../src/artifacts/resolve.js';
import { settingsFromVars } from '../../../src/artifacts/settings.js';
import { KprovError } from '../../../src/errors.js';
import { LAB_VERSIONS } from '../../../dev/fixture-release.js';

function byId(list: ResolvedArtifact[], id: string): ResolvedArtifact {
  const a = list.find((x) => x.id === id);
  assert.ok(a, `artifact ${id}`);
  return a;
}

const published = (a: ResolvedArtifact) => {
  assert.equal(a.checksum.kind, 'published');
  return a.checksum.kind === 'published' ? a.checksum.candidates.map((c) => `${c.algorithm} ${c.url} ${c.fileName}`) : [];
};

describe('resolveArtifacts: upstream defaults', () => {
  const list = resolveArtifacts(settingsFromVars(LAB_VERSIONS));

  it('builds the upstream URL of every artifact', () => {
    assert.deepEqual(
      list.map((a) => [a.id, a.url]),
      [
        ['kube-apiserver', 'https://dl.k8s.io/release/v1.13.5/bin/linux/amd64/kube-apiserver'],
        ['kube-controller-manager', 'https://dl.k8s.io/release/v1.13.5/bin/linux/amd64/kube-controller-manager'],
        ['kube-scheduler', 'https://dl.k8s.io/release/v1.13.5/bin/linux/amd64/kube-scheduler'],
        ['kubelet', 'https://dl.k8s.io/release/v1.13.5/bin/linux/amd64/kubelet'],
        ['kube-proxy', 'https://dl.k8s.io/release/v1.13.5/bin/linux/amd64/kube-proxy'],
        ['kubectl', 'https://dl.k8s.io/release/v1.20.2/bin/linux/amd64/kubectl'],
        ['etcd', 'https://github.com/etcd-io/etcd/releases/download/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz'],
        ['containerd', 'https://github.com/containerd/containerd/releases/download/v1.6.20/containerd-1.6.20-linux-amd64.tar.gz'],
        ['runc', 'https://github.com/opencontainers/runc/releases/download/v1.1.5/runc.amd64'],
        ['cni', 'https://github.com/containernetworking/plugins/releases/download/v1.1.1/cni-plugins-linux-amd64-v1.1.1.tgz'],
      ],
    );
    assert.ok(list.every((a) => a.urlOrigin === 'upstream' && a.url === a.upstreamUrl));
  });

  it('takes each checksum from where its project publishes it', () => {
    assert.deepEqual(published(byId(list, 'kube-apiserver')), [
      'sha512 https://dl.k8s.io/release/v1.13.5/bin/linux/amd64/kube-apiserver.sha512 kube-apiserver',
    ]);
    assert.deepEqual(published(byId(list, 'kubectl')), [
      'sha256 https://dl.k8s.io/release/v1.20.2/bin/linux/amd64/kubectl.sha256 kubectl',
      'sha512 https://dl.k8s.io/release/v1.20.2/bin/linux/amd64/kubectl.sha512 kubectl',
    ]);
    assert.deepEqual(published(byId(list, 'etcd')), [
      'sha256 https://github.com/etcd-io/etcd/releases/download/v3.4.23/SHA256SUMS etcd-v3.4.23-linux-amd64.tar.gz',
    ]);
    assert.deepEqual(published(byId(list, 'containerd')), [
      'sha256 https://github.com/containerd/containerd/releases/download/v1.6.20/containerd-1.6.20-linux-amd64.tar.gz.sha256sum containerd-1.6.20-linux-amd64.tar.gz',
    ]);
    assert.deepEqual(published(byId(list, 'runc')), [
      'sha256 https://github.com/opencontainers/runc/releases/download/v1.1.5/runc.sha256sum runc.amd64',
    ]);
    assert.deepEqual(published(byId(list, 'cni')), [
      'sha256 https://github.com/containernetworking/plugins/releases/download/v1.1.1/cni-plugins-linux-amd64-v1.1.1.tgz.sha256 cni-plugins-linux-amd64-v1.1.1.tgz',
      'sha512 https://github.com/containernetworking/plugins/releases/download/v1.1.1/cni-plugins-linux-amd64-v1.1.1.tgz.sha512 cni-plugins-linux-amd64-v1.1.1.tgz',
    ]);
  });

  it('installs binaries into bin_dir and CNI plugins into /opt/cni/bin, for the right groups', () => {
    const etcd = byId(list, 'etcd');
    assert.equal(etcd.archive, 'tar.gz');
    assert.deepEqual(etcd.install.map((r) => [r.select, r.dir, r.mode]), [
      [{ kind: 'exact', path: 'etcd-v3.4.23-linux-amd64/etcd', installName: 'etcd' }, '/usr/local/bin', 0o755],
      [{ kind: 'exact', path: 'etcd-v3.4.23-linux-amd64/etcdctl', installName: 'etcdctl' }, '/usr/local/bin', 0o755],
    ]);
    assert.deepEqual(byId(list, 'cni').install[0]?.dir, '/opt/cni/bin');
    assert.deepEqual(byId(list, 'runc').install[0]?.select, { kind: 'download', installName: 'runc' });
    const groups = Object.fromEntries(list.map((a) => [a.id, a.groups.join(',')]));
    assert.deepEqual(groups, {
      'kube-apiserver': 'kube_control_plane',
      'kube-controller-manager': 'kube_control_plane',
      'kube-scheduler': 'kube_control_plane',
      kubelet: 'k8s_cluster',
      'kube-proxy': 'k8s_cluster',
      kubectl: 'kube_control_plane',
      etcd: 'etcd',
      containerd: 'k8s_cluster',
      runc: 'k8s_cluster',
      cni: 'k8s_cluster',
    });
  });
});

describe('resolveArtifacts: versions change layouts', () => {
  it('uses .sha256 for kube binaries from v1.16 and .sha512 before', () => {
    const a = byId(resolveArtifacts(settingsFromVars({ kube_version: 'v1.16.0' })), 'kubelet');
    assert.equal(published(a)[0], 'sha256 https://dl.k8s.io/release/v1.16.0/bin/linux/amd64/kubelet.sha256 kubelet');
    const b = byId(resolveArtifacts(settingsFromVars({ kube_version: 'v1.15.12' })), 'kubelet');
    assert.deepEqual(published(b), ['sha512 https://dl.k8s.io/release/v1.15.12/bin/linux/amd64/kubelet.sha512 kubelet']);
  });

  it('names containerd tarballs with a dot up to 1.3.4 and a dash from 1.3.5', () => {
    const url = (v: string) => byId(resolveArtifacts(settingsFromVars({ containerd_version: v })), 'containerd').url;
    assert.match(url('1.2.13'), /\/v1\.2\.13\/containerd-1\.2\.13\.linux-amd64\.tar\.gz$/);
    assert.match(url('1.3.4'), /containerd-1\.3\.4\.linux-amd64\.tar\.gz$/);
    assert.match(url('1.3.5'), /containerd-1\.3\.5-linux-amd64\.tar\.gz$/);
    assert.match(url('1.4.0-beta.1'), /containerd-1\.4\.0-beta\.1-linux-amd64\.tar\.gz$/);
    const old = byId(resolveArtifacts(settingsFromVars({ containerd_version: '1.2.13' })), 'containerd');
    assert.deepEqual(
      published(old).map((s) => s.split(' ')[1]!.replace(/.*\.tar\.gz/, '')),
      ['.sha256sum', '.sha256'],
    );
  });

  it('names CNI tarballs without the OS before v0.8.0', () => {
    const a = byId(resolveArtifacts(settingsFromVars({ cni_version: 'v0.7.5', image_arch: 'arm64' })), 'cni');
    assert.equal(a.url, 'https://github.com/containernetworking/plugins/releases/download/v0.7.5/cni-plugins-arm64-v0.7.5.tgz');
  });

  it('has no checksum source for runc releases before runc.sha256sum existed', () => {
    const a = byId(resolveArtifacts(settingsFromVars({ runc_version: 'v1.0.0-rc3' })), 'runc');
    assert.deepEqual(a.checksum, { kind: 'none' });
    const b = byId(resolveArtifacts(settingsFromVars({ runc_version: 'v1.0.0-rc4' })), 'runc');
    assert.equal(b.checksum.kind, 'published');
  });

  it('uses the catalogue pin for etcd and CNI versions Kubespray pinned', () => {
    const list = resolveArtifacts(settingsFromVars({ etcd_version: 'v3.2.26', cni_version: 'v0.8.1' }));
    assert.deepEqual(byId(list, 'etcd').checksum, {
      kind: 'pinned',
      origin: 'catalogue',
      digest: { algorithm: 'sha256', hex: '127d4f2097c09d929beb9d3784590cc11102f4b4d4d4da7ad82d5c9e856afd38' },
    });
    assert.equal(byId(list, 'cni').checksum.kind, 'pinned');
    // No arm64 pin for v3.2.26: falls back to the release's SHA256SUMS.
    const arm = resolveArtifacts(settingsFromVars({ etcd_version: 'v3.2.26', image_arch: 'arm64' }));
    assert.equal(byId(arm, 'etcd').checksum.kind, 'published');
  });
});

describe('resolveArtifacts: files_repo and overrides', () => {
  it('re-bases every URL and checksum file under files_repo', () => {
    const list = resolveArtifacts(settingsFromVars({ ...LAB_VERSIONS, files_repo: 'http://10.213.0.1:8080/kprov/' }));
    for (const a of list) {
      assert.equal(a.urlOrigin, 'files_repo');
      assert.equal(a.url, rebase(a.upstreamUrl, 'http://10.213.0.1:8080/kprov'));
      assert.ok(a.url.startsWith('http://10.213.0.1:8080/kprov/'), a.url);
    }
    assert.equal(
      byId(list, 'kube-apiserver').url,
      'http://10.213.0.1:8080/kprov/dl.k8s.io/release/v1.13.5/bin/linux/amd64/kube-apiserver',
    );
    assert.deepEqual(published(byId(list, 'etcd')), [
      'sha256 http://10.213.0.1:8080/kprov/github.com/etcd-io/etcd/releases/download/v3.4.23/SHA256SUMS etcd-v3.4.23-linux-amd64.tar.gz',
    ]);
    assert.deepEqual(published(byId(list, 'runc')), [
      'sha256 http://10.213.0.1:8080/kprov/github.com/opencontainers/runc/releases/download/v1.1.5/runc.sha256sum runc.amd64',
    ]);
  });

  it('lets <name>_download_url win over files_repo and looks for the checksum next to it', () => {
    const list = resolveArtifacts(
      settingsFromVars({
        ...LAB_VERSIONS,
        files_repo: 'http://mirror.lab/files',
        kube_controller_manager_download_url: 'https://other.lab/k8s/v1.13.5/kcm',
        etcd_download_url: 'https://other.lab/etcd/etcd-v3.4.23-linux-amd64.tar.gz',
      }),
    );
    const kcm = byId(list, 'kube-controller-manager');
    assert.equal(kcm.urlOrigin, 'override');
    assert.equal(kcm.url, 'https://other.lab/k8s/v1.13.5/kcm');
    assert.deepEqual(published(kcm), ['sha512 https://other.lab/k8s/v1.13.5/kcm.sha512 kcm']);
    assert.deepEqual(published(byId(list, 'etcd')), [
      'sha256 https://other.lab/etcd/SHA256SUMS etcd-v3.4.23-linux-amd64.tar.gz',
    ]);
    assert.equal(byId(list, 'kube-scheduler').urlOrigin, 'files_repo');
  });

  it('lets <name>_checksum win over the catalogue and published files', () => {
    const pin = `sha512:${'e'.repeat(128)}`;
    const list = resolveArtifacts(settingsFromVars({ etcd_version: 'v3.2.26', etcd_checksum: pin, kubelet_checksum: 'f'.repeat(64) }));
    assert.deepEqual(byId(list, 'etcd').checksum, { kind: 'pinned', origin: 'group_vars', digest: { algorithm: 'sha512', hex: 'e'.repeat(128) } });
    assert.deepEqual(byId(list, 'kubelet').checksum, { kind: 'pinned', origin: 'group_vars', digest: { algorithm: 'sha256', hex: 'f'.repeat(64) } });
  });

  it('skips every checksum with --insecure-skip-checksum', () => {
    const list = resolveArtifacts(settingsFromVars({ etcd_version: 'v3.2.26', runc_version: 'v1.0.0-rc3' }, { insecureSkipChecksum: true }));
    assert.ok(list.every((a) => a.checksum.kind === 'skipped'));
  });
});

describe('planArtifacts', () => {
  const hosts = [
    { name: 'cp1', groups: ['all', 'etcd', 'k8s_cluster', 'kube_control_plane'], vars: { ...LAB_VERSIONS } },
    { name: 'w1', groups: ['all', 'k8s_cluster', 'kube_node'], vars: { ...LAB_VERSIONS } },
    { name: 'w2', groups: ['all', 'k8s_cluster', 'kube_node'], vars: { ...LAB_VERSIONS, image_arch: 'arm64' } },
    { name: 'e1', groups: ['all', 'etcd'], vars: { ...LAB_VERSIONS } },
  ];

  it('gives each host exactly what its groups and architecture need', () => {
    const plan = planArtifacts(hosts);
    const summary = plan.map((p) => `${p.artifact.id}/${p.artifact.arch}: ${p.hosts.join(',')}`);
    assert.deepEqual(summary, [
      'kube-apiserver/amd64: cp1',
      'kube-controller-manager/amd64: cp1',
      'kube-scheduler/amd64: cp1',
      'kubelet/amd64: cp1,w1',
      'kube-proxy/amd64: cp1,w1',
      'kubectl/amd64: cp1',
      'etcd/amd64: cp1,e1',
      'containerd/amd64: cp1,w1',
      'runc/amd64: cp1,w1',
      'cni/amd64: cp1,w1',
      'kubelet/arm64: w2',
      'kube-proxy/arm64: w2',
      'containerd/arm64: w2',
      'runc/arm64: w2',
      'cni/arm64: w2',
    ]);
  });

  it('names the host whose variables are wrong', () => {
    assert.throws(
      () => planArtifacts([...hosts, { name: 'bad', groups: ['all', 'k8s_cluster'], vars: { runc_checksum: 'xyz' } }]),
      (err: unknown) => err instanceof KprovError && err.host === 'bad' && /^runc_checksum: /.test(err.message),
    );
  });
});
