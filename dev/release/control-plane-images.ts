/**
 * The control plane's container images for static-pod mode, from the stand-in release: each is
 * busybox (a shell and /usr/bin/env for the bundle's `#!/usr/bin/env node`), the Node runtime
 * layer the CoreDNS stand-in image has too, and the stand-in's bundle at /usr/local/bin/<name>,
 * named as kubeadm v1.13 names the upstream images: `k8s.gcr.io/kube-apiserver:v1.13.5` …
 * The same bundle the release serves for host mode, so a stand-in behaves the same in both.
 * And etcd for `etcd_deployment_type: static_pod`: Kubespray's `quay.io/coreos/etcd:<etcd_version>`,
 * the real etcd and etcdctl from the Debian packages the release serves, with busybox (the
 * liveness probe runs `/bin/sh -ec "etcdctl … get foo"`).
 */
import path from 'node:path';
import { debPackage } from './debs.js';
import type { ReleaseManifest } from './build.js';
import { ImageStore, type BuiltImage } from './image-store.js';
import { busyboxLayer, nodeRuntimeLayer, programEntries } from './images.js';

export const CONTROL_PLANE_IMAGE_COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;

/** kubeadm v1.13's image names (its imageRepository default: k8s.gcr.io). */
export const controlPlaneImage = (component: string, kubeVersion: string, repo = 'k8s.gcr.io') => `${repo}/${component}:${kubeVersion}`;

/** Kubespray's etcd_image_repo. */
export const ETCD_IMAGE_REPO = 'quay.io/coreos/etcd';

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ControlPlaneImagesOptions {
  release: ReleaseManifest;
  /** The release tree (its artifacts' urlPath below it). */
  releaseDir: string;
  /** The OCI image layout to write. */
  outDir: string;
  cacheDir: string;
}

export async function buildControlPlaneImages(opts: ControlPlaneImagesOptions): Promise<{ layout: string; images: BuiltImage[] }> {
  const store = new ImageStore(path.resolve(opts.outDir), path.join(opts.cacheDir, 'image-layers'));
  const [busybox, node] = await Promise.all([debPackage(opts.cacheDir, 'busybox-static').then(busyboxLayer), nodeRuntimeLayer()]);
  const images: BuiltImage[] = [];
  for (const component of CONTROL_PLANE_IMAGE_COMPONENTS) {
    const artifact = opts.release.artifacts.find((a) => a.name === component);
    if (!artifact) throw new Error(`the stand-in release has no ${component}`);
    images.push(
      await store.image({
        name: controlPlaneImage(component, opts.release.kubeVersion),
        layers: [
          busybox,
          node,
          {
            createdBy: `kprov: /usr/local/bin/${component}, the ${component} ${opts.release.kubeVersion} stand-in (dev/standin/${component})`,
            entries: [{ path: `usr/local/bin/${component}`, type: 'file', mode: 0o755, from: path.join(opts.releaseDir, artifact.urlPath) }],
          },
        ],
        // As the upstream images: no entrypoint; kubeadm's manifests give the command.
        run: { env: [PATH_ENV] },
      }),
    );
  }
  const etcd = opts.release.artifacts.find((a) => a.name === 'etcd');
  if (!etcd) throw new Error('the stand-in release has no etcd');
  const [server, client] = await Promise.all([debPackage(opts.cacheDir, 'etcd-server'), debPackage(opts.cacheDir, 'etcd-client')]);
  images.push(
    await store.image({
      name: `${ETCD_IMAGE_REPO}:${etcd.version}`,
      layers: [
        busybox,
        {
          createdBy: `Debian etcd-server and etcd-client ${server.debVersion}: /usr/local/bin/etcd, /usr/local/bin/etcdctl and the libraries ldd lists`,
          entries: [
            ...(await programEntries(
              [
                { path: 'usr/local/bin/etcd', from: path.join(server.root, 'usr', 'bin', 'etcd'), mode: 0o755 },
                { path: 'usr/local/bin/etcdctl', from: path.join(client.root, 'usr', 'bin', 'etcdctl'), mode: 0o755 },
              ],
              [],
            )),
            { path: 'var/lib/etcd', type: 'dir' },
          ],
        },
      ],
      run: { env: [PATH_ENV], exposedPorts: ['2379/tcp', '2380/tcp'] },
    }),
  );
  await store.writeIndex(images);
  return { layout: store.dir, images };
}
