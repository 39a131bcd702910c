/**
 * The stand-in release tree the lab's HTTP mirror serves as `files_repo`: `{outDir}/{HOST}/{PATH}`
 * mirroring the upstream download URLs, checksum files included, so a mirror is a plain copy of
 * the upstream trees. Kube server binaries are the bundled stand-ins; etcd, containerd, runc, the
 * CNI plugins and kubectl are the real binaries from Debian packages under their true versions.
 *
 * More kube versions (`--also-kube-version v1.13.6`) are served next to the first, for upgrades:
 * the same stand-ins with only the version they report differing.
 *
 *   node dist/dev/release/build.js --out DIR [--kube-version v1.13.5] [--also-kube-version v1.13.6] [--cache-dir DIR] [--manifest FILE]
 */
import { Command } from 'commander';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { digests, newestMtime, tarGz, type Algorithm } from './archive.js';
import { bundleStandinVersions, standinNames } from './bundle.js';
import { DEFAULT_CACHE_DIR, debPackage, type DebPackage } from './debs.js';
import { KprovError, formatError, isKprovError } from '../../src/errors.js';
import { RELEASE_FILE } from '../../src/lab/release-pins.js';

export interface ReleaseArtifact {
  /** Catalogue name: kube-apiserver, …, kubectl, etcd, containerd, runc, cni. */
  name: string;
  /** The upstream release tag it is, e.g. v3.4.23. */
  version: string;
  /** Path below the tree root, i.e. the upstream URL without `https://`. */
  urlPath: string;
  sha256: string;
  /** Where it was taken from: `stand-in` or the Debian package and version. */
  source: string;
}

export interface ReleaseManifest {
  kubeVersion: string;
  artifacts: ReleaseArtifact[];
  /** The stand-ins of every kube version the tree serves (kubeVersion's included), by version. */
  kubeReleases: Record<string, ReleaseArtifact[]>;
}

export interface BuildOptions {
  outDir: string;
  kubeVersion?: string;
  /** Further kube versions whose stand-ins are served next to kubeVersion's (`v1.13.6`). */
  alsoKubeVersions?: readonly string[];
  /** Debian packages and build stamps; outside the repository. */
  cacheDir?: string;
}

/** Bumped when the layout of an artifact changes, so cached outputs are rebuilt. */
const RECIPE = 1;

interface Stamp {
  key: string;
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** Cached build results, keyed by output path, valid while the output file is untouched. */
class Stamps {
  constructor(private readonly dir: string) {}

  private file(output: string): string {
    return path.join(this.dir, `${createHash('sha256').update(path.resolve(output)).digest('hex').slice(0, 32)}.json`);
  }

  async reuse(output: string, key: string): Promise<string | undefined> {
    try {
      const s = JSON.parse(await readFile(this.file(output), 'utf8')) as Stamp;
      const st = await stat(output);
      return s.key === key && s.size === st.size && s.mtimeMs === st.mtimeMs ? s.sha256 : undefined;
    } catch {
      return undefined;
    }
  }

  async record(output: string, key: string, sha256: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const st = await stat(output);
    await writeFile(this.file(output), JSON.stringify({ key, size: st.size, mtimeMs: st.mtimeMs, sha256 } satisfies Stamp));
  }
}

/** Writes `text` unless the file already holds it (keeps mtimes, and so the mirror, stable). */
async function writeText(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  try {
    if ((await readFile(file, 'utf8')) === text) return;
  } catch {
    // Not there yet.
  }
  await writeFile(`${file}.tmp-${process.pid}`, text);
  await rename(`${file}.tmp-${process.pid}`, file);
}

/** Runs `binary args` and checks its output names `version`: nothing pretends to be what it is not. */
async function checkReportedVersion(binary: string, args: string[], version: string): Promise<void> {
  const r = await execa(binary, args, { reject: false, all: true, timeout: 20_000 });
  const out = String(r.all ?? '');
  if (!out.includes(version)) throw new KprovError('lab', `${binary} ${args.join(' ')} does not report version ${version}: ${out.trim().split('\n')[0] ?? ''}`);
}

async function copyExecutable(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true });
  const tmp = `${to}.tmp-${process.pid}`;
  await copyFile(from, tmp);
  await chmod(tmp, 0o755);
  await rename(tmp, to);
}

const keyOf = (...parts: Array<string | number>) => createHash('sha256').update(JSON.stringify([RECIPE, ...parts])).digest('hex');

export async function buildStandinRelease(opts: BuildOptions): Promise<ReleaseManifest> {
  const outDir = path.resolve(opts.outDir);
  const kubeVersion = opts.kubeVersion ?? 'v1.13.5';
  const cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR;
  const stamps = new Stamps(path.join(cacheDir, 'release-stamps'));
  const staging = path.join(cacheDir, 'staging');
  await mkdir(staging, { recursive: true });
  const artifacts: ReleaseArtifact[] = [];

  // Kube server binaries: the stand-ins, with the checksum files v1.13 published (no .sha256).
  const kubeVersions = [...new Set([kubeVersion, ...(opts.alsoKubeVersions ?? [])])];
  const kubeDir = (v: string) => path.join(outDir, 'dl.k8s.io', 'release', v, 'bin', 'linux', 'amd64');
  const bundled = await bundleStandinVersions({ versions: kubeVersions.map((v) => ({ outDir: kubeDir(v), kubeVersion: v })) });
  const kubeReleases: Record<string, ReleaseArtifact[]> = {};
  for (const [i, version] of kubeVersions.entries()) {
    const bundles = bundled[i]!;
    kubeReleases[version] = [];
    for (const name of standinNames) {
      const sums = await digests(bundles[name], ['sha256', 'sha512', 'sha1', 'md5']);
      for (const algo of ['sha512', 'sha1', 'md5'] as const) await writeText(`${bundles[name]}.${algo}`, sums[algo]);
      kubeReleases[version].push({ name, version, urlPath: path.relative(outDir, bundles[name]), sha256: sums.sha256, source: 'stand-in' });
    }
  }
  artifacts.push(...kubeReleases[kubeVersion]!);

  const [etcdServer, etcdClient, containerd, runc, cni, kubectl] = await Promise.all(
    ['etcd-server', 'etcd-client', 'containerd', 'runc', 'containernetworking-plugins', 'kubernetes-client'].map((p) => debPackage(cacheDir, p)),
  );
  const from = (p: DebPackage) => `debian:${p.name}=${p.debVersion}`;
  if (etcdServer!.upstreamVersion !== etcdClient!.upstreamVersion) {
    throw new KprovError('lab', `etcd-server ${etcdServer!.upstreamVersion} and etcd-client ${etcdClient!.upstreamVersion} differ`, { hint: 'refresh the package cache so both come from the same Debian release' });
  }

  /** Builds (or reuses) one archive and writes its checksum files. */
  const archive = async (
    name: string,
    version: string,
    source: DebPackage[],
    output: string,
    layout: Array<{ from: string; to: string }>,
    sums: Array<{ file: string; algo: Algorithm; format: 'hex' | 'line' }>,
  ) => {
    const key = keyOf(name, version, ...source.map((p) => path.basename(p.file)), ...layout.map((l) => l.to));
    await mkdir(path.dirname(output), { recursive: true });
    let sha256 = await stamps.reuse(output, key);
    if (!sha256) {
      const dir = await mkdtemp(path.join(staging, `${name}-`));
      try {
        for (const l of layout) await copyExecutable(l.from, path.join(dir, l.to));
        const mtime = await newestMtime(layout.map((l) => l.from));
        const roots = [...new Set(layout.map((l) => l.to.split('/')[0]!))];
        await tarGz(dir, roots, output, mtime);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      sha256 = (await digests(output, ['sha256'])).sha256;
      await stamps.record(output, key, sha256);
    }
    const needed = [...new Set(sums.map((s) => s.algo))];
    const values = needed.length === 1 && needed[0] === 'sha256' ? { sha256 } as Record<Algorithm, string> : await digests(output, needed);
    for (const s of sums) await writeText(s.file, s.format === 'hex' ? values[s.algo] : `${values[s.algo]}  ${path.basename(output)}\n`);
    artifacts.push({ name, version, urlPath: path.relative(outDir, output), sha256, source: source.map(from).join(' ') });
  };

  // etcd: github.com/etcd-io/etcd/releases/download/vX/etcd-vX-linux-amd64.tar.gz + SHA256SUMS.
  const etcdVersion = `v${etcdServer!.upstreamVersion}`;
  const etcdBin = path.join(etcdServer!.root, 'usr', 'bin', 'etcd');
  const etcdctlBin = path.join(etcdClient!.root, 'usr', 'bin', 'etcdctl');
  await checkReportedVersion(etcdBin, ['--version'], etcdServer!.upstreamVersion);
  const etcdDir = path.join(outDir, 'github.com', 'etcd-io', 'etcd', 'releases', 'download', etcdVersion);
  const etcdName = `etcd-${etcdVersion}-linux-amd64`;
  await archive('etcd', etcdVersion, [etcdServer!, etcdClient!], path.join(etcdDir, `${etcdName}.tar.gz`), [
    { from: etcdBin, to: `${etcdName}/etcd` },
    { from: etcdctlBin, to: `${etcdName}/etcdctl` },
  ], [{ file: path.join(etcdDir, 'SHA256SUMS'), algo: 'sha256', format: 'line' }]);

  // containerd: …/containerd/releases/download/vX/containerd-X-linux-amd64.tar.gz (bin/…) + .sha256sum.
  const containerdVersion = containerd!.upstreamVersion;
  const containerdBins = path.join(containerd!.root, 'usr', 'bin');
  await checkReportedVersion(path.join(containerdBins, 'containerd'), ['--version'], containerdVersion);
  const containerdDir = path.join(outDir, 'github.com', 'containerd', 'containerd', 'releases', 'download', `v${containerdVersion}`);
  const containerdTar = path.join(containerdDir, `containerd-${containerdVersion}-linux-amd64.tar.gz`);
  const containerdFiles = (await readdir(containerdBins)).sort();
  await archive('containerd', `v${containerdVersion}`, [containerd!], containerdTar, containerdFiles.map((f) => ({ from: path.join(containerdBins, f), to: `bin/${f}` })), [
    { file: `${containerdTar}.sha256sum`, algo: 'sha256', format: 'line' },
  ]);

  // runc: …/opencontainers/runc/releases/download/vX/runc.amd64 + runc.sha256sum.
  const runcVersion = `v${runc!.upstreamVersion}`;
  const runcBin = path.join(runc!.root, 'usr', 'sbin', 'runc');
  await checkReportedVersion(runcBin, ['--version'], runc!.upstreamVersion);
  const runcDir = path.join(outDir, 'github.com', 'opencontainers', 'runc', 'releases', 'download', runcVersion);
  const runcOut = path.join(runcDir, 'runc.amd64');
  const runcKey = keyOf('runc', path.basename(runc!.file));
  let runcSha = await stamps.reuse(runcOut, runcKey);
  if (!runcSha) {
    await copyExecutable(runcBin, runcOut);
    runcSha = (await digests(runcOut, ['sha256'])).sha256;
    await stamps.record(runcOut, runcKey, runcSha);
  }
  await writeText(path.join(runcDir, 'runc.sha256sum'), `${runcSha}  runc.amd64\n`);
  artifacts.push({ name: 'runc', version: runcVersion, urlPath: path.relative(outDir, runcOut), sha256: runcSha, source: from(runc!) });

  // CNI plugins: …/containernetworking/plugins/releases/download/vX/cni-plugins-linux-amd64-vX.tgz
  // (plugins at the archive root) + .sha256 + .sha512.
  const cniVersion = `v${cni!.upstreamVersion}`;
  const cniBins = path.join(cni!.root, 'usr', 'lib', 'cni');
  const cniDir = path.join(outDir, 'github.com', 'containernetworking', 'plugins', 'releases', 'download', cniVersion);
  const cniTgz = path.join(cniDir, `cni-plugins-linux-amd64-${cniVersion}.tgz`);
  const cniFiles = (await readdir(cniBins)).sort();
  await archive('cni', cniVersion, [cni!], cniTgz, cniFiles.map((f) => ({ from: path.join(cniBins, f), to: `./${f}` })), [
    { file: `${cniTgz}.sha256`, algo: 'sha256', format: 'line' },
    { file: `${cniTgz}.sha512`, algo: 'sha512', format: 'line' },
  ]);

  // kubectl: dl.k8s.io/release/vX/bin/linux/amd64/kubectl + .sha256 + .sha512 (hex only).
  const kubectlVersion = `v${kubectl!.upstreamVersion}`;
  const kubectlBin = path.join(kubectl!.root, 'usr', 'bin', 'kubectl');
  await checkReportedVersion(kubectlBin, ['version', '--client', '-o', 'json'], `"gitVersion": "${kubectlVersion}"`);
  const kubectlOut = path.join(outDir, 'dl.k8s.io', 'release', kubectlVersion, 'bin', 'linux', 'amd64', 'kubectl');
  const kubectlKey = keyOf('kubectl', path.basename(kubectl!.file));
  if (!(await stamps.reuse(kubectlOut, kubectlKey))) {
    await copyExecutable(kubectlBin, kubectlOut);
    await stamps.record(kubectlOut, kubectlKey, (await digests(kubectlOut, ['sha256'])).sha256);
  }
  const kubectlSums = await digests(kubectlOut, ['sha256', 'sha512']);
  await writeText(`${kubectlOut}.sha256`, kubectlSums.sha256);
  await writeText(`${kubectlOut}.sha512`, kubectlSums.sha512);
  artifacts.push({ name: 'kubectl', version: kubectlVersion, urlPath: path.relative(outDir, kubectlOut), sha256: kubectlSums.sha256, source: from(kubectl!) });

  const manifest = { kubeVersion, artifacts, kubeReleases };
  // What the mirror serves, for `kprov lab up` to pin the inventory it writes.
  await writeText(path.join(outDir, RELEASE_FILE), `${JSON.stringify({ pins: releasePins(manifest) }, null, 2)}\n`);
  return manifest;
}

/**
 * What an inventory sets to install another kube version the tree serves: kube_version and the
 * stand-ins' checksums (which change with their version string).
 */
export function kubeVersionPins(manifest: ReleaseManifest, kubeVersion: string): Record<string, string> {
  const standins = manifest.kubeReleases[kubeVersion];
  if (!standins) throw new Error(`the stand-in release serves no ${kubeVersion} (it serves ${Object.keys(manifest.kubeReleases).join(', ')})`);
  return { kube_version: kubeVersion, ...Object.fromEntries(standins.map((a) => [`${a.name.replace(/-/g, '_')}_checksum`, `sha256:${a.sha256}`])) };
}

/** Every artifact's version variable, as the release really contains it. */
export function releasePins(manifest: ReleaseManifest): Record<string, string> {
  const version = (name: string) => {
    const a = manifest.artifacts.find((x) => x.name === name);
    if (!a) throw new Error(`the stand-in release has no ${name}`);
    return a.version;
  };
  return {
    kube_version: manifest.kubeVersion,
    kubectl_version: version('kubectl'),
    etcd_version: version('etcd'),
    containerd_version: version('containerd').replace(/^v/, ''),
    runc_version: version('runc'),
    cni_version: version('cni'),
    // The stand-ins change with their sources while their URLs stay: pinned, a lab never gets a
    // stale one from a download cache that trusts a URL it has seen.
    ...Object.fromEntries(
      manifest.artifacts.filter((a) => a.source === 'stand-in').map((a) => [`${a.name.replace(/-/g, '_')}_checksum`, `sha256:${a.sha256}`]),
    ),
  };
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('build-standin-release')
    .description('Build the stand-in Kubernetes v1.13 release tree the lab mirror serves as files_repo')
    .requiredOption('--out <dir>', 'output directory ({HOST}/{PATH} below it)')
    .option('--kube-version <version>', 'Kubernetes version the stand-ins report', 'v1.13.5')
    .option('--also-kube-version <version...>', 'further versions served next to it (for upgrades)')
    .option('--cache-dir <dir>', 'where Debian packages and build stamps are kept', DEFAULT_CACHE_DIR)
    .option('--manifest <file>', 'also write the manifest JSON to this file')
    .parse(argv);
  const o = program.opts<{ out: string; kubeVersion: string; alsoKubeVersion?: string[]; cacheDir: string; manifest?: string }>();
  const manifest = await buildStandinRelease({ outDir: o.out, kubeVersion: o.kubeVersion, alsoKubeVersions: o.alsoKubeVersion ?? [], cacheDir: o.cacheDir });
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  if (o.manifest) await writeFile(o.manifest, text);
  process.stdout.write(text);
}

if (process.argv[1] && existsSync(process.argv[1]) && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).catch((err: unknown) => {
    if (isKprovError(err)) {
      process.stderr.write(`${formatError(err)}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
