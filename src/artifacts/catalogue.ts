/**
 * Every artifact kprov installs: where upstream publishes it, which checksum file sits next to it,
 * what to take out of its archive and where that goes on a host. Sources for the layouts and the
 * pinned values are in docs/artifacts.md.
 */
import { GROUP } from '../inventory/model.js';
import type { Digest, DigestAlgorithm } from './checksum.js';
import type { ArtifactId } from './ids.js';
import type { Arch, ArtifactSettings } from './settings.js';
import { versionAtLeast } from './versions.js';

export type ArchiveKind = 'binary' | 'tar.gz';

/** Which archive members an install rule takes. Paths are relative, without a leading `./`. */
export type MemberSelector =
  /** The downloaded file itself (raw binaries), installed as `installName`. */
  | { kind: 'download'; installName: string }
  /** One named archive member, installed as `installName`. */
  | { kind: 'exact'; path: string; installName: string }
  /** Every regular file directly in `dir` whose name starts with `prefix`, under its own name. */
  | { kind: 'prefix'; dir: string; prefix: string }
  /** Every executable regular file directly in `dir`, under its own name (README/LICENSE are not). */
  | { kind: 'executables'; dir: string };

export type InstallDir = 'bin_dir' | 'cni_bin_dir';

export interface InstallRule {
  select: MemberSelector;
  dir: InstallDir;
  mode: number;
}

export const CNI_BIN_DIR = '/opt/cni/bin';

/** A checksum file to try, in order; a 404 moves on to the next. */
export interface ChecksumFileRule {
  algorithm: DigestAlgorithm;
  /** The checksum file's URL given the artifact's (possibly overridden or re-based) URL. */
  at(url: string): string;
}

export interface CatalogueEntry {
  id: ArtifactId;
  description: string;
  /** Inventory groups whose hosts need this artifact. */
  groups: readonly string[];
  /** The variable the version comes from (for messages). */
  versionVar: string;
  version(settings: ArtifactSettings): string;
  /** Upstream default URL (always `https://HOST/PATH`, so files_repo can re-base it). */
  url(version: string, arch: Arch): string;
  archive: ArchiveKind;
  install(version: string, arch: Arch): readonly InstallRule[];
  /** Names that must be among the installed files, else the archive is not what was expected. */
  required(version: string, arch: Arch): readonly string[];
  checksumFiles(version: string, arch: Arch): readonly ChecksumFileRule[];
  pinned(version: string, arch: Arch): Digest | undefined;
}

const sibling = (url: string, name: string) => `${url.slice(0, url.lastIndexOf('/') + 1)}${name}`;
const suffix = (algorithm: DigestAlgorithm, ext: string): ChecksumFileRule => ({ algorithm, at: (url) => `${url}${ext}` });
const inDir = (algorithm: DigestAlgorithm, name: string): ChecksumFileRule => ({ algorithm, at: (url) => sibling(url, name) });

function sha256Pins(table: Readonly<Record<string, Partial<Record<Arch, string>>>>) {
  return (version: string, arch: Arch): Digest | undefined => {
    const hex = table[version]?.[arch];
    return hex ? { algorithm: 'sha256', hex } : undefined;
  };
}

const binary = (installName: string): InstallRule => ({ select: { kind: 'download', installName }, dir: 'bin_dir', mode: 0o755 });
const member = (path: string, installName: string): InstallRule => ({
  select: { kind: 'exact', path, installName },
  dir: 'bin_dir',
  mode: 0o755,
});

function kubeBinary(
  id: 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubelet' | 'kube-proxy' | 'kubectl',
  description: string,
  groups: readonly string[],
): CatalogueEntry {
  const kubectl = id === 'kubectl';
  return {
    id,
    description,
    groups,
    versionVar: kubectl ? 'kubectl_version' : 'kube_version',
    version: (s) => (kubectl ? (s.kubectl_version ?? s.kube_version) : s.kube_version),
    url: (v, arch) => `https://dl.k8s.io/release/${v}/bin/linux/${arch}/${id}`,
    archive: 'binary',
    install: () => [binary(id)],
    required: () => [id],
    // v1.12–v1.15 publish NAME.sha512 (plus .sha1/.md5, not trusted); .sha256 starts with v1.16.
    checksumFiles: (v) =>
      versionAtLeast(v, 'v1.16.0') ? [suffix('sha256', '.sha256'), suffix('sha512', '.sha512')] : [suffix('sha512', '.sha512')],
    pinned: () => undefined,
  };
}

const CONTROL_PLANE = [GROUP.controlPlane];
const CLUSTER = [GROUP.k8sCluster];

export const CATALOGUE: readonly CatalogueEntry[] = [
  kubeBinary('kube-apiserver', 'Kubernetes API server', CONTROL_PLANE),
  kubeBinary('kube-controller-manager', 'Kubernetes controller manager', CONTROL_PLANE),
  kubeBinary('kube-scheduler', 'Kubernetes scheduler', CONTROL_PLANE),
  kubeBinary('kubelet', 'Kubernetes node agent', CLUSTER),
  kubeBinary('kube-proxy', 'Kubernetes service proxy', CLUSTER),
  kubeBinary('kubectl', 'Kubernetes command-line client', CONTROL_PLANE),
  {
    id: 'etcd',
    description: 'etcd server and etcdctl',
    groups: [GROUP.etcd],
    versionVar: 'etcd_version',
    version: (s) => s.etcd_version,
    url: (v, arch) => `https://github.com/etcd-io/etcd/releases/download/${v}/etcd-${v}-linux-${arch}.tar.gz`,
    archive: 'tar.gz',
    install: (v, arch) => [member(`etcd-${v}-linux-${arch}/etcd`, 'etcd'), member(`etcd-${v}-linux-${arch}/etcdctl`, 'etcdctl')],
    required: () => ['etcd', 'etcdctl'],
    checksumFiles: () => [inDir('sha256', 'SHA256SUMS')],
    // Kubespray's pins for the versions it shipped around Kubernetes v1.12–v1.15.
    pinned: sha256Pins({
      'v3.2.24': { amd64: '947849dbcfa13927c81236fb76a7c01d587bbab42ab1e807184cd91b026ebed7' },
      'v3.2.26': { amd64: '127d4f2097c09d929beb9d3784590cc11102f4b4d4d4da7ad82d5c9e856afd38' },
      'v3.3.10': {
        amd64: '1620a59150ec0a0124a65540e23891243feb2d9a628092fb1edcc23974724a45',
        arm64: '5ec97b0b872adce275b8130d19db314f7f2b803aeb24c4aae17a19e2d66853c4',
      },
    }),
  },
  {
    id: 'containerd',
    description: 'containerd, its shims and ctr',
    groups: CLUSTER,
    versionVar: 'containerd_version',
    version: (s) => s.containerd_version,
    // Releases up to 1.3.4 were named containerd-X.linux-ARCH; 1.3.5 and 1.4.0 on use a dash.
    url: (v, arch) =>
      versionAtLeast(v, '1.3.5')
        ? `https://github.com/containerd/containerd/releases/download/v${v}/containerd-${v}-linux-${arch}.tar.gz`
        : `https://github.com/containerd/containerd/releases/download/v${v}/containerd-${v}.linux-${arch}.tar.gz`,
    archive: 'tar.gz',
    install: () => [
      member('bin/containerd', 'containerd'),
      { select: { kind: 'prefix', dir: 'bin', prefix: 'containerd-shim' }, dir: 'bin_dir', mode: 0o755 },
      member('bin/ctr', 'ctr'),
    ],
    required: () => ['containerd', 'ctr'],
    // 1.3 on publish `<tarball>.sha256sum`; older releases are tried with `.sha256` too.
    checksumFiles: (v) =>
      versionAtLeast(v, '1.3.0') ? [suffix('sha256', '.sha256sum')] : [suffix('sha256', '.sha256sum'), suffix('sha256', '.sha256')],
    pinned: () => undefined,
  },
  {
    id: 'runc',
    description: 'runc OCI runtime',
    groups: CLUSTER,
    versionVar: 'runc_version',
    version: (s) => s.runc_version,
    url: (v, arch) => `https://github.com/opencontainers/runc/releases/download/${v}/runc.${arch}`,
    archive: 'binary',
    install: () => [binary('runc')],
    required: () => ['runc'],
    // runc's release script writes runc.sha256sum since v1.0.0-rc4 (opencontainers/runc#1554).
    checksumFiles: (v) => (versionAtLeast(v, 'v1.0.0-rc4') ? [inDir('sha256', 'runc.sha256sum')] : []),
    pinned: () => undefined,
  },
  {
    id: 'cni',
    description: 'CNI plugins',
    groups: CLUSTER,
    versionVar: 'cni_version',
    version: (s) => s.cni_version,
    url: (v, arch) =>
      versionAtLeast(v, 'v0.8.0')
        ? `https://github.com/containernetworking/plugins/releases/download/${v}/cni-plugins-linux-${arch}-${v}.tgz`
        : `https://github.com/containernetworking/plugins/releases/download/${v}/cni-plugins-${arch}-${v}.tgz`,
    archive: 'tar.gz',
    install: () => [{ select: { kind: 'executables', dir: '' }, dir: 'cni_bin_dir', mode: 0o755 }],
    required: () => ['bridge', 'host-local', 'loopback'],
    checksumFiles: () => [suffix('sha256', '.sha256'), suffix('sha512', '.sha512')],
    pinned: sha256Pins({
      // Kubespray (commit 347790e9, mid-2019) with cni_version v0.8.1.
      'v0.8.1': {
        amd64: 'e9bfc78acd3ae71be77eb8f3e890cc9078a33cc3797703b8ff2fc3077a232252',
        arm64: 'acde854e3def3c776c532ae521c19d8784534918cc56449ff16945a2909bff6d',
      },
    }),
  },
];

export function catalogueEntry(id: ArtifactId): CatalogueEntry {
  const entry = CATALOGUE.find((e) => e.id === id);
  if (!entry) throw new Error(`no catalogue entry for ${id}`);
  return entry;
}
