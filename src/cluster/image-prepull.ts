/**
 * A running static pod never waits on an image pull: before a changed manifest replaces one
 * (a new image in a flag or version change, a switch from a systemd unit, the API proxy changing
 * type), the new image is pulled through the kubelet, so containerd's registry configuration
 * (`containerd_registries`) applies as for any pod: a throwaway static pod
 * `kprov-pull-<component>` that runs the image's own `--version` (present in the upstream images
 * and the lab's), `restartPolicy: Never`, is written to the manifests directory, kprov waits
 * (bounded) until containerd lists the image, and removes it. Where nothing runs yet the first
 * start pulls it (there is nothing to keep up meanwhile); an image already there costs one
 * read-ahead `ctr images ls`.
 */
import path from 'node:path';
import type { Change, ProbeCommand } from '../engine/contract.js';
import { HostStepError } from '../engine/errors.js';
import { probe, statOf } from '../engine/read-cache.js';
import { waitUntil, WaitTimeoutError } from '../engine/wait.js';
import type { RemoteHost } from '../ssh/types.js';
import type { ClusterTask } from './run.js';

const CONTAINERD_SOCKET = '/run/containerd/containerd.sock';
const PULL_TIMEOUT_MS = 180_000;

export interface PrepullOptions {
  /** The static pod it is for (`kube-apiserver`, `etcd`, `nginx-proxy` …). */
  component: string;
  image: string;
  /** A command of the image that exits at once (its `--version`). */
  command: readonly string[];
  manifestDir: string;
  /** `ctr`, as the containerd artifact installs it. */
  ctr: string;
  /** Whatever runs the component now (its manifest, or its unit file): without any, no pre-pull. */
  runningIf: readonly string[];
  tags?: readonly string[];
}

const listCommand = (o: PrepullOptions): ProbeCommand => ({
  argv: [o.ctr, '--address', CONTAINERD_SOCKET, '-n', 'k8s.io', 'images', 'ls', '-q', `name==${o.image}`],
  timeoutMs: 15_000,
  whenActive: 'containerd.service',
});

async function present(host: RemoteHost, o: PrepullOptions, ctx?: Parameters<typeof probe>[2]): Promise<boolean> {
  const r = await probe(host, listCommand(o), ctx);
  return r.code === 0 && r.stdout.split('\n').some((l) => l.trim() === o.image);
}

export function pullManifest(o: PrepullOptions): string {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `kprov-pull-${o.component}`, namespace: 'kube-system', labels: { 'app.kubernetes.io/managed-by': 'kprov' } },
    spec: { hostNetwork: true, restartPolicy: 'Never', containers: [{ name: 'pull', image: o.image, imagePullPolicy: 'IfNotPresent', command: [...o.command] }] },
  };
  // JSON is YAML: the kubelet reads it as it reads every manifest.
  return `# Written by kprov to pull ${o.image} before ${o.component} changes; removed once pulled.\n${JSON.stringify(pod, null, 2)}\n`;
}

export function prepullTask(o: PrepullOptions): ClusterTask {
  const file = path.posix.join(o.manifestDir, `kprov-pull-${o.component}.yaml`);
  return {
    name: `${o.image} on the host before ${o.component} changes`,
    ...(o.tags ? { tags: o.tags } : {}),
    reads: () => ({ paths: [...o.runningIf, file], commands: [listCommand(o)] }),
    async check(host, ctx): Promise<Change[]> {
      const running = (await Promise.all(o.runningIf.map((p) => statOf(host, p, ctx)))).some((s) => s !== undefined);
      const leftover = await statOf(host, file, ctx);
      if (!running && !leftover) return [];
      if (await present(host, o, ctx)) return leftover ? [{ kind: 'file', summary: `remove ${file} (an interrupted pull's)` }] : [];
      return [{ kind: 'custom', summary: `pull ${o.image} through the kubelet (a throwaway static pod) before ${o.component} changes` }];
    },
    async apply(host) {
      if (!(await present(host, o))) {
        await host.writeFile(file, pullManifest(o), { mode: 0o600, owner: 'root', group: 'root' });
        try {
          await waitUntil(async () => ((await present(host, o)) ? true : undefined), { what: `containerd to have ${o.image}`, timeoutMs: PULL_TIMEOUT_MS, intervalMs: 1_000 });
        } catch (err) {
          if (!(err instanceof WaitTimeoutError)) throw err;
          await host.run(['rm', '-f', '--', file]);
          throw new HostStepError(host.name, `${o.image} could not be pulled through the kubelet: ${err.message}`, [], `see: journalctl -u kubelet; the image must be in a registry containerd reaches (containerd_registries) or imported with ctr -n k8s.io images import`);
        }
      }
      await host.run(['rm', '-f', '--', file]);
    },
  };
}
