/**
 * A fake release tree in the upstream layouts (as a files_repo mirror lays them out: the upstream
 * host name as the first path segment), with the checksum files each project publishes. The
 * "binaries" are small shell scripts plus random bytes, made fresh for every run (tests, benchmark).
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { create } from 'tar';

export const LAB_VERSIONS = {
  kube_version: 'v1.13.5',
  kubectl_version: 'v1.20.2',
  etcd_version: 'v3.4.23',
  containerd_version: '1.6.20',
  runc_version: 'v1.1.5',
  cni_version: 'v1.1.1',
  image_arch: 'amd64',
} as const;

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
export const sha512 = (b: Buffer | string) => createHash('sha512').update(b).digest('hex');

export function fakeBinary(name: string, version: string, size = 4096): Buffer {
  return Buffer.concat([Buffer.from(`#!/bin/sh\necho "${name} ${version} (fake)"\nexit 0\n`), randomBytes(size)]);
}

export interface TarMember {
  path: string;
  content: Buffer;
  mode: number;
}

/** A gzip'd tarball of these members (built with the tar package from a temp directory). */
export async function makeTarGz(members: readonly TarMember[], roots: readonly string[]): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kprov-tar-'));
  try {
    const src = path.join(dir, 'src');
    for (const m of members) {
      const file = path.join(src, m.path);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, m.content);
      await chmod(file, m.mode);
    }
    const out = path.join(dir, 'out.tar.gz');
    await create({ gzip: true, file: out, cwd: src, portable: true }, [...roots]);
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface FakeRelease {
  /** Server paths (`/dl.k8s.io/release/...`) → content. */
  files: Map<string, Buffer>;
  /** Installed file name → expected content. */
  binaries: Map<string, Buffer>;
  /** Server path of each artifact's download. */
  paths: Record<'kubeApiserver' | 'kubelet' | 'kubectl' | 'etcd' | 'containerd' | 'runc' | 'cni', string>;
}

const KUBE = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy'];

export async function buildFakeRelease(): Promise<FakeRelease> {
  const v = LAB_VERSIONS;
  const arch = v.image_arch;
  const files = new Map<string, Buffer>();
  const binaries = new Map<string, Buffer>();

  // Kubernetes v1.13: NAME plus NAME.sha512 / .sha1 / .md5 (bare hex, no newline), no .sha256.
  for (const name of KUBE) {
    const body = fakeBinary(name, v.kube_version, name === 'kube-apiserver' ? 256 * 1024 : 4096);
    binaries.set(name, body);
    const p = `/dl.k8s.io/release/${v.kube_version}/bin/linux/${arch}/${name}`;
    files.set(p, body);
    files.set(`${p}.sha512`, Buffer.from(sha512(body)));
    files.set(`${p}.sha1`, Buffer.from(createHash('sha1').update(body).digest('hex')));
    files.set(`${p}.md5`, Buffer.from(createHash('md5').update(body).digest('hex')));
  }
  // kubectl v1.20.2: .sha256 exists from v1.16 on.
  const kubectl = fakeBinary('kubectl', v.kubectl_version);
  binaries.set('kubectl', kubectl);
  const kubectlPath = `/dl.k8s.io/release/${v.kubectl_version}/bin/linux/${arch}/kubectl`;
  files.set(kubectlPath, kubectl);
  files.set(`${kubectlPath}.sha256`, Buffer.from(sha256(kubectl)));
  files.set(`${kubectlPath}.sha512`, Buffer.from(sha512(kubectl)));

  // etcd: tarball with a top directory; SHA256SUMS lists every asset of the release.
  const etcdTop = `etcd-${v.etcd_version}-linux-${arch}`;
  const etcd = fakeBinary('etcd', v.etcd_version);
  const etcdctl = fakeBinary('etcdctl', v.etcd_version);
  binaries.set('etcd', etcd);
  binaries.set('etcdctl', etcdctl);
  const etcdTar = await makeTarGz(
    [
      { path: `${etcdTop}/etcd`, content: etcd, mode: 0o755 },
      { path: `${etcdTop}/etcdctl`, content: etcdctl, mode: 0o755 },
      { path: `${etcdTop}/README.md`, content: Buffer.from('# etcd\n'), mode: 0o644 },
      { path: `${etcdTop}/Documentation/dev-guide.md`, content: Buffer.from('guide\n'), mode: 0o644 },
    ],
    [etcdTop],
  );
  const etcdDir = `/github.com/etcd-io/etcd/releases/download/${v.etcd_version}`;
  const etcdPath = `${etcdDir}/${etcdTop}.tar.gz`;
  files.set(etcdPath, etcdTar);
  files.set(
    `${etcdDir}/SHA256SUMS`,
    Buffer.from(
      [
        `${sha256('other')}  etcd-${v.etcd_version}-darwin-amd64.zip`,
        `${sha256(etcdTar)}  ${etcdTop}.tar.gz`,
        `${sha256('arm')}  etcd-${v.etcd_version}-linux-arm64.tar.gz`,
        '',
      ].join('\n'),
    ),
  );

  // containerd 1.6: bin/ members, `<tarball>.sha256sum`.
  const cdNames = ['containerd', 'containerd-shim', 'containerd-shim-runc-v1', 'containerd-shim-runc-v2', 'containerd-stress', 'ctr'];
  const cdMembers = cdNames.map((name) => {
    const content = fakeBinary(name, v.containerd_version);
    if (name !== 'containerd-stress') binaries.set(name, content);
    return { path: `bin/${name}`, content, mode: 0o755 };
  });
  const cdTar = await makeTarGz(cdMembers, ['bin']);
  const cdName = `containerd-${v.containerd_version}-linux-${arch}.tar.gz`;
  const cdPath = `/github.com/containerd/containerd/releases/download/v${v.containerd_version}/${cdName}`;
  files.set(cdPath, cdTar);
  files.set(`${cdPath}.sha256sum`, Buffer.from(`${sha256(cdTar)}  ${cdName}\n`));

  // runc: raw binary runc.ARCH, PGP clear-signed runc.sha256sum listing every asset.
  const runc = fakeBinary('runc', v.runc_version);
  binaries.set('runc', runc);
  const runcDir = `/github.com/opencontainers/runc/releases/download/${v.runc_version}`;
  files.set(`${runcDir}/runc.${arch}`, runc);
  files.set(
    `${runcDir}/runc.sha256sum`,
    Buffer.from(
      [
        '-----BEGIN PGP SIGNED MESSAGE-----',
        'Hash: SHA512',
        '',
        `${sha256('arm64 build')}  runc.arm64`,
        `${sha256(runc)}  runc.${arch}`,
        `${sha256('source')}  runc.tar.xz`,
        '-----BEGIN PGP SIGNATURE-----',
        '',
        'iQIzBAEBCgAdFiEEXzbGxhtUYBJKdfWmnhiqJn3bjbQFAmQ0c2kACgkQnhiqJn3b',
        '=Vb3q',
        '-----END PGP SIGNATURE-----',
        '',
      ].join('\n'),
    ),
  );

  // CNI plugins: executables at the archive root plus LICENSE/README (not installed).
  const cniNames = ['bridge', 'host-local', 'loopback', 'portmap'];
  const cniMembers: TarMember[] = cniNames.map((name) => {
    const content = fakeBinary(name, v.cni_version, 1024);
    binaries.set(name, content);
    return { path: name, content, mode: 0o755 };
  });
  cniMembers.push({ path: 'LICENSE', content: Buffer.from('Apache-2.0\n'), mode: 0o644 });
  cniMembers.push({ path: 'README.md', content: Buffer.from('# plugins\n'), mode: 0o644 });
  const cniTar = await makeTarGz(cniMembers, ['.']);
  const cniName = `cni-plugins-linux-${arch}-${v.cni_version}.tgz`;
  const cniPath = `/github.com/containernetworking/plugins/releases/download/${v.cni_version}/${cniName}`;
  files.set(cniPath, cniTar);
  files.set(`${cniPath}.sha256`, Buffer.from(`${sha256(cniTar)}  ${cniName}\n`));
  files.set(`${cniPath}.sha512`, Buffer.from(`${sha512(cniTar)}  ${cniName}\n`));

  return {
    files,
    binaries,
    paths: {
      kubeApiserver: `/dl.k8s.io/release/${v.kube_version}/bin/linux/${arch}/kube-apiserver`,
      kubelet: `/dl.k8s.io/release/${v.kube_version}/bin/linux/${arch}/kubelet`,
      kubectl: kubectlPath,
      etcd: etcdPath,
      containerd: cdPath,
      runc: `${runcDir}/runc.${arch}`,
      cni: cniPath,
    },
  };
}
