/**
 * The lab's image registry: Debian's distribution binary (registry-binary.ts) serving plain HTTP
 * on the bridge address inside the lab namespace, with its config and storage in the lab's
 * directory. Started and stopped with the lab, like the artifact mirror.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startLabServer } from './lab-servers.js';
import { registryListen } from './names.js';
import { REGISTRY_ENV, registryConfig } from './registry-config.js';
import type { LabStateStore } from './state.js';

/**
 * The upstream registries whose images the lab serves: containerd in lab hosts asks the lab
 * registry for each of them (`containerd_registries`), by the image's path alone
 * (`k8s.gcr.io/pause:3.1` is `pause:3.1` there).
 */
export const LAB_MIRRORED_REGISTRIES: readonly string[] = ['docker.io', 'k8s.gcr.io', 'quay.io', 'registry.k8s.io'];

export interface StartedRegistry {
  listen: string;
  /** http://10.213.0.1:5000 */
  url: string;
  log: string;
}

export function registryUrl(listen: string): string {
  return `http://${listen}`;
}

/** Writes the registry's config, records it in the lab's state, then starts it. */
export async function startRegistry(store: LabStateStore, namespace: string, binary: string): Promise<StartedRegistry> {
  const listen = registryListen();
  const storage = path.join(store.dir, 'registry');
  const config = path.join(store.dir, 'registry.yml');
  const log = path.join(store.dir, 'registry.log');
  await mkdir(storage, { recursive: true, mode: 0o700 });
  await writeFile(config, registryConfig({ listen, storageDir: storage, secret: randomBytes(24).toString('base64url') }), { mode: 0o600 });
  await store.update((s) => {
    s.registry = { listen, storage, config, log };
  });
  const process = await startLabServer(namespace, [binary, 'serve', config], log, { what: 'the lab registry', env: REGISTRY_ENV });
  await store.update((s) => {
    if (s.registry) s.registry.process = process;
  });
  return { listen, url: registryUrl(listen), log };
}
