/**
 * Benchmark: filling the artifact cache for a whole cluster from a loopback mirror (files_repo),
 * with release-sized fake binaries (v1.13.5-like sizes, random bytes), then the warm re-run.
 * Measures wall time, throughput and HTTP requests for concurrency 1 and 4.
 * Usage: npm run build && node dist/bench/download.js [--scale 0.25]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifacts } from '../src/artifacts/download.js';
import { resolveArtifacts } from '../src/artifacts/resolve.js';
import { settingsFromVars } from '../src/artifacts/settings.js';
import { makeTarGz, sha256, sha512, LAB_VERSIONS } from '../dev/fixture-release.js';
import { startFixtureServer } from '../dev/fixture-server.js';

// `--warm CACHE_DIR FILES_REPO`: the warm run, in a fresh process as a CLI invocation would be
// (in the parent, collecting the cold run's garbage would be charged to it).
const warmArg = process.argv.indexOf('--warm');
if (warmArg >= 0) {
  const [cacheDir, filesRepo] = process.argv.slice(warmArg + 1);
  const artifacts = resolveArtifacts(settingsFromVars({ ...LAB_VERSIONS, files_repo: filesRepo }));
  const t = performance.now();
  const results = await downloadArtifacts(artifacts, { cacheDir: cacheDir! });
  console.log(JSON.stringify({ ms: performance.now() - t, cached: results.filter((r) => r.status === 'cached').length }));
  process.exit(0);
}

const scaleArg = process.argv.indexOf('--scale');
const scale = scaleArg >= 0 ? Number(process.argv[scaleArg + 1]) : 1;
const MiB = 1024 * 1024;
const size = (mib: number) => Math.round(mib * MiB * scale);

/** Roughly the sizes of the real linux/amd64 files. */
const KUBE_SIZES: Record<string, number> = {
  'kube-apiserver': 138,
  'kube-controller-manager': 104,
  'kube-scheduler': 37,
  kubelet: 110,
  'kube-proxy': 34,
};

async function buildTree(): Promise<Map<string, Buffer>> {
  const v = LAB_VERSIONS;
  const files = new Map<string, Buffer>();
  const bin = (mib: number) => randomBytes(size(mib));
  for (const [name, mib] of Object.entries(KUBE_SIZES)) {
    const p = `/dl.k8s.io/release/${v.kube_version}/bin/linux/amd64/${name}`;
    const body = bin(mib);
    files.set(p, body);
    files.set(`${p}.sha512`, Buffer.from(sha512(body)));
  }
  const kubectl = bin(39);
  const kp = `/dl.k8s.io/release/${v.kubectl_version}/bin/linux/amd64/kubectl`;
  files.set(kp, kubectl);
  files.set(`${kp}.sha256`, Buffer.from(sha256(kubectl)));
  const top = `etcd-${v.etcd_version}-linux-amd64`;
  const etcd = await makeTarGz(
    [
      { path: `${top}/etcd`, content: bin(22), mode: 0o755 },
      { path: `${top}/etcdctl`, content: bin(17), mode: 0o755 },
    ],
    [top],
  );
  const ed = `/github.com/etcd-io/etcd/releases/download/${v.etcd_version}`;
  files.set(`${ed}/${top}.tar.gz`, etcd);
  files.set(`${ed}/SHA256SUMS`, Buffer.from(`${sha256(etcd)}  ${top}.tar.gz\n`));
  const cd = await makeTarGz(
    ['containerd', 'containerd-shim', 'containerd-shim-runc-v2', 'ctr'].map((n, i) => ({ path: `bin/${n}`, content: bin([45, 7, 10, 22][i]!), mode: 0o755 })),
    ['bin'],
  );
  const cdName = `containerd-${v.containerd_version}-linux-amd64.tar.gz`;
  const cdp = `/github.com/containerd/containerd/releases/download/v${v.containerd_version}/${cdName}`;
  files.set(cdp, cd);
  files.set(`${cdp}.sha256sum`, Buffer.from(`${sha256(cd)}  ${cdName}\n`));
  const runc = bin(10);
  const rd = `/github.com/opencontainers/runc/releases/download/${v.runc_version}`;
  files.set(`${rd}/runc.amd64`, runc);
  files.set(`${rd}/runc.sha256sum`, Buffer.from(`${sha256(runc)}  runc.amd64\n`));
  const cni = await makeTarGz(
    ['bridge', 'host-local', 'loopback', 'portmap', 'firewall', 'bandwidth'].map((n) => ({ path: n, content: bin(4), mode: 0o755 })),
    ['.'],
  );
  const cniName = `cni-plugins-linux-amd64-${v.cni_version}.tgz`;
  const cnp = `/github.com/containernetworking/plugins/releases/download/${v.cni_version}/${cniName}`;
  files.set(cnp, cni);
  files.set(`${cnp}.sha256`, Buffer.from(`${sha256(cni)}  ${cniName}\n`));
  return files;
}

const files = await buildTree();
const server = await startFixtureServer(files);
const dir = await mkdtemp(path.join(os.tmpdir(), 'kprov-bench-download-'));
try {
  const artifacts = resolveArtifacts(settingsFromVars({ ...LAB_VERSIONS, files_repo: server.url }));
  let total = 0;
  for (const [p, b] of files) if (!/\.sha(256|512)(sum)?$|SHA256SUMS$/.test(p)) total += b.length;
  console.log(`release: ${artifacts.length} artifacts, ${(total / MiB).toFixed(0)} MiB, ${os.availableParallelism()} cores`);
  for (const concurrency of [1, 4]) {
    const cacheDir = path.join(dir, `cache-${concurrency}`);
    // Start each measurement with no dirty pages pending: writeback of the previous run would
    // otherwise be charged to this one (the disk here sustains ~180 MB/s).
    execFileSync('sync');
    server.resetCounts();
    let t = performance.now();
    await downloadArtifacts(artifacts, { cacheDir, concurrency });
    const cold = performance.now() - t;
    execFileSync('sync');
    const synced = performance.now() - t;
    const coldRequests = server.requests.length;
    const coldInFlight = server.maxInFlight;
    server.resetCounts();
    t = performance.now();
    const child = execFileSync(process.execPath, [process.argv[1]!, '--warm', cacheDir, server.url], { encoding: 'utf8' });
    const processMs = performance.now() - t;
    const warm = JSON.parse(child) as { ms: number; cached: number };
    console.log(
      `concurrency ${concurrency}: cold ${(cold / 1000).toFixed(2)} s (${(total / MiB / (cold / 1000)).toFixed(0)} MiB/s; ${(synced / 1000).toFixed(2)} s until on disk; ${coldRequests} requests, ` +
        `max ${coldInFlight} at once); warm ${warm.ms.toFixed(1)} ms (${server.requests.length} requests, ${warm.cached} cached; whole process ${processMs.toFixed(0)} ms)`,
    );
  }
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
