import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KprovError } from '../../../src/errors.js';
import { parseArtifactSettings, settingsFromVars } from '../../../src/artifacts/settings.js';

function configError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KprovError, 'a KprovError');
    assert.equal(err.code, 'config');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('settingsFromVars', () => {
  it('fills v1.13-era defaults when the inventory names no versions', () => {
    const s = settingsFromVars({});
    assert.equal(s.kube_version, 'v1.13.5');
    assert.equal(s.kubectl_version, undefined);
    assert.equal(s.etcd_version, 'v3.2.24');
    assert.equal(s.containerd_version, '1.2.6');
    assert.equal(s.runc_version, 'v1.0.0-rc6');
    assert.equal(s.cni_version, 'v0.7.5');
    assert.equal(s.arch, 'amd64');
    assert.equal(s.bin_dir, '/usr/local/bin');
    assert.equal(s.download_localhost, true);
    assert.equal(s.insecureSkipChecksum, false);
    assert.deepEqual(s.overrides, {});
  });

  it('reads Kubespray variable names and normalizes versions to the upstream form', () => {
    const s = settingsFromVars(
      {
        kube_version: '1.13.5',
        kubectl_version: 'v1.20.2',
        etcd_version: '3.4.23',
        containerd_version: 'v1.6.20',
        runc_version: 'v1.1.5',
        cni_version: 'v1.1.1',
        image_arch: 'arm64',
        files_repo: 'http://10.213.0.1:8080/files/',
        bin_dir: '/opt/bin/',
        download_localhost: false,
        kube_apiserver_download_url: 'https://mirror.example/kube-apiserver',
        kube_apiserver_checksum: `sha512:${'AB'.repeat(64)}`,
        etcd_checksum: 'c'.repeat(64),
        runc_checksum: 0, // Kubespray's "unknown"
        cni_download_url: '',
      },
      { insecureSkipChecksum: true },
    );
    assert.equal(s.kube_version, 'v1.13.5');
    assert.equal(s.etcd_version, 'v3.4.23');
    assert.equal(s.containerd_version, '1.6.20');
    assert.equal(s.arch, 'arm64');
    assert.equal(s.files_repo, 'http://10.213.0.1:8080/files');
    assert.equal(s.bin_dir, '/opt/bin');
    assert.equal(s.download_localhost, false);
    assert.equal(s.insecureSkipChecksum, true);
    assert.deepEqual(s.overrides, {
      kube_apiserver: { url: 'https://mirror.example/kube-apiserver', checksum: { algorithm: 'sha512', hex: 'ab'.repeat(64) } },
      etcd: { checksum: { algorithm: 'sha256', hex: 'c'.repeat(64) } },
    });
  });

  it('names the variable in every bad-value error', () => {
    configError(() => settingsFromVars({ kube_apiserver_checksum: 'md5:abc' }), /^kube_apiserver_checksum: must be sha256:/);
    configError(() => settingsFromVars({ etcd_checksum: 'sha256:1234' }), /^etcd_checksum: /);
    configError(() => settingsFromVars({ etcd_download_url: 'ftp://mirror/etcd.tar.gz' }), /^etcd_download_url: must be an http/);
    configError(
      () => settingsFromVars({ cni_download_url: '{{ files_repo }}/cni.tgz' }),
      /^cni_download_url: contains a template expression that was not evaluated/,
    );
    configError(() => settingsFromVars({ files_repo: 'not a url' }), /^files_repo: /);
    configError(() => settingsFromVars({ image_arch: 's390x' }), /^image_arch: must be one of amd64, arm64/);
    configError(() => settingsFromVars({ containerd_version: 1.6 }), /^containerd_version: .*quote it/);
    configError(() => settingsFromVars({ kube_version: 'latest' }), /^kube_version: must be a version/);
    configError(() => settingsFromVars({ bin_dir: 'usr/bin' }), /^bin_dir: must be an absolute path/);
    configError(() => settingsFromVars({ download_localhost: 'yes' }), /^download_localhost: must be true or false/);
  });

  it('reports where a bad variable was defined when the caller knows', () => {
    try {
      settingsFromVars({ runc_checksum: 'nope' }, { locate: (v) => ({ file: 'group_vars/all/download.yml', line: v === 'runc_checksum' ? 7 : 1 }) });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof KprovError);
      assert.deepEqual(err.location, { file: 'group_vars/all/download.yml', line: 7 });
    }
  });
});

describe('parseArtifactSettings', () => {
  it('rejects unknown keys and override names', () => {
    assert.throws(() => parseArtifactSettings({ kube_versoin: 'v1.13.5' }), KprovError);
    assert.throws(() => parseArtifactSettings({ overrides: { hyperkube: { url: 'https://x/y' } } }), KprovError);
  });
});
