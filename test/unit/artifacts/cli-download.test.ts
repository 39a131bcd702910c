import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Command } from 'commander';
import { registerDownload, type DownloadReport, type InventorySource } from '../../../src/cli/download.js';
import type { CliIO } from '../../../src/cli/io.js';
import { KprovError } from '../../../src/errors.js';
import { openFixture, type Fixture } from '../../support/artifact-fixture.js';
import { LAB_VERSIONS } from '../../../dev/fixture-release.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await openFixture();
});
afterEach(async () => {
  await fx.close();
});

interface Run {
  stdout: string;
  stderr: string;
  error?: unknown;
}

async function download(args: string[], vars: Record<string, unknown> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    out: (t) => (stdout += `${t}\n`),
    err: (t) => (stderr += `${t}\n`),
    env: { XDG_CACHE_HOME: path.join(fx.dir, 'xdg') },
    cwd: fx.dir,
    isTTY: false,
  };
  const groupVars = { ...LAB_VERSIONS, files_repo: fx.server.url, ...vars };
  const source: InventorySource = {
    resolveDir: async (option, cliIo) => path.resolve(cliIo.cwd, option ?? 'inventory/lab'),
    loadHosts: async (dir) => {
      assert.equal(dir, path.join(fx.dir, 'inventory/lab'));
      return [
        { name: 'node1', groups: ['all', 'etcd', 'k8s_cluster', 'kube_control_plane'], vars: groupVars },
        { name: 'node2', groups: ['all', 'k8s_cluster', 'kube_node'], vars: groupVars },
        { name: 'node3', groups: ['all', 'k8s_cluster', 'kube_node'], vars: groupVars },
      ];
    },
  };
  const program = new Command('kprov').exitOverride();
  registerDownload(program, io, source);
  try {
    await program.parseAsync(['download', '-i', 'inventory/lab', ...args], { from: 'user' });
    return { stdout, stderr };
  } catch (error) {
    return { stdout, stderr, error };
  }
}

describe('kprov download', () => {
  it('fills the cache under $XDG_CACHE_HOME/kprov and prints a table; the second run is all cached', async () => {
    const first = await download([]);
    assert.equal(first.error, undefined, String(first.error));
    const lines = first.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ARTIFACT\s+VERSION\s+ARCH\s+SHA256\s+STATUS\s+BYTES\s+HOSTS$/);
    assert.equal(lines.length, 12);
    assert.match(lines[1]!, /^kube-apiserver\s+v1\.13\.5\s+amd64\s+[0-9a-f]{16}\s+downloaded\s+\d+\s+1$/);
    assert.match(first.stdout, /^kubelet\s+v1\.13\.5\s+amd64\s+[0-9a-f]{16}\s+downloaded\s+\d+\s+3$/m);
    assert.match(lines[11]!, new RegExp(`^10 artifact\\(s\\): 10 downloaded \\(\\d+ bytes\\), 0 cached; cache: ${fx.dir}/xdg/kprov$`));
    assert.match(first.stderr, /^downloading etcd v3\.4\.23 \(amd64\) from http:\/\/127\.0\.0\.1:\d+\/github\.com\/etcd-io/m);

    fx.server.resetCounts();
    const second = await download(['--json']);
    assert.equal(second.error, undefined);
    assert.deepEqual(fx.server.requests, []);
    const report = JSON.parse(second.stdout) as DownloadReport;
    assert.equal(report.cacheDir, path.join(fx.dir, 'xdg/kprov'));
    assert.ok(report.artifacts.every((a) => a.status === 'cached' && a.verification === 'published'));
    const etcd = report.artifacts.find((a) => a.id === 'etcd')!;
    assert.deepEqual(etcd.hosts, ['node1']);
    assert.deepEqual(etcd.files.map((f) => [f.installPath, f.mode]), [
      ['/usr/local/bin/etcd', '0755'],
      ['/usr/local/bin/etcdctl', '0755'],
    ]);
    assert.equal(second.stderr, '');
  });

  it('warns for every artifact with --insecure-skip-checksum', async () => {
    const r = await download(['--insecure-skip-checksum']);
    assert.equal(r.error, undefined);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
    assert.equal(warnings.length, 10);
    assert.match(warnings[0]!, /^warning: kube-apiserver v1\.13\.5 \(amd64\): checksum NOT verified \(--insecure-skip-checksum\): /);
  });

  it('fails with the artifact error and prints every other failure too', async () => {
    fx.server.files.delete(fx.release.paths.runc);
    fx.server.files.delete(`${fx.release.paths.kubelet}.sha512`);
    const r = await download([]);
    assert.ok(r.error instanceof KprovError);
    // Which failure comes first depends on timing: one is the error, the other is printed.
    const all = `error: ${r.error.message}\n${r.stderr}`;
    assert.match(all, /^error: kubelet v1\.13\.5 \(amd64\): no checksum file found/m);
    assert.match(all, /^error: runc v1\.1\.5 \(amd64\): download .*runc\.amd64 not found \(HTTP 404\)$/m);
  });

  it('rejects bad override values, naming the host and variable', async () => {
    const r = await download([], { etcd_download_url: 'file:///tmp/etcd.tar.gz' });
    assert.ok(r.error instanceof KprovError);
    assert.equal(r.error.host, 'node1');
    assert.equal(r.error.message, 'etcd_download_url: must be an http:// or https:// URL');
    assert.equal(r.error.exitCode, 2);
  });
});

describe('kprov download with a real inventory directory', () => {
  it('reads inventory.ini and group_vars through the inventory loader', async () => {
    const { mkdir, writeFile } = await import('node:fs/promises');
    const inv = path.join(fx.dir, 'inventory', 'lab');
    await mkdir(path.join(inv, 'group_vars', 'all'), { recursive: true });
    await writeFile(
      path.join(inv, 'inventory.ini'),
      ['[all]', 'node1 ansible_host=127.0.0.2', 'node2 ansible_host=127.0.0.3', '', '[kube_control_plane]', 'node1', '', '[etcd]', 'node1', '',
        '[kube_node]', 'node2', '', '[k8s_cluster:children]', 'kube_control_plane', 'kube_node', ''].join('\n'),
    );
    await writeFile(
      path.join(inv, 'group_vars', 'all', 'all.yml'),
      [
        ...Object.entries(LAB_VERSIONS).map(([k, v]) => `${k}: "${v}"`),
        `files_repo: "${fx.server.url}"`,
        // An expression, as Kubespray inventories write them: evaluated by the loader.
        `kube_proxy_download_url: "{{ files_repo }}/dl.k8s.io/release/{{ kube_version }}/bin/linux/{{ image_arch }}/kube-proxy"`,
        '',
      ].join('\n'),
    );
    let stdout = '';
    let stderr = '';
    const io: CliIO = {
      out: (t) => (stdout += `${t}\n`),
      err: (t) => (stderr += `${t}\n`),
      env: { XDG_CACHE_HOME: path.join(fx.dir, 'xdg') },
      cwd: fx.dir,
      isTTY: false,
    };
    const program = new Command('kprov').exitOverride();
    registerDownload(program, io);
    await program.parseAsync(['download', '-i', 'inventory/lab', '--json'], { from: 'user' });
    const report = JSON.parse(stdout) as DownloadReport;
    assert.equal(report.artifacts.length, 10, stderr);
    const proxy = report.artifacts.find((a) => a.id === 'kube-proxy')!;
    assert.equal(proxy.url, `${fx.server.url}/dl.k8s.io/release/v1.13.5/bin/linux/amd64/kube-proxy`);
    assert.deepEqual(proxy.hosts, ['node1', 'node2']);
    assert.deepEqual(report.artifacts.find((a) => a.id === 'etcd')!.hosts, ['node1']);
  });
});
