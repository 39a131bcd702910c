/**
 * The `dns` role: the cluster DNS add-on (Kubespray's dns_mode: coredns), applied through the
 * first control-plane host's kubectl with the admin kubeconfig, as Kubespray applies its add-ons
 * from kube_control_plane[0]. That host already has kubectl and the credentials, and it reaches
 * the API wherever the control host sits (behind a bastion too).
 *
 * Desired state: one `kubectl get -f -` reads every object; an object is changed only when it is
 * missing or its manifest hash annotation differs, and then only that object is applied. A re-run
 * on an unchanged inventory writes nothing (the objects keep their resourceVersion); a new
 * upstream_dns_servers rewrites the ConfigMap alone. dns_mode: none removes the objects kprov
 * made (those carrying its annotation) and leaves anything else alone.
 */
import { HostStepError } from '../../engine/errors.js';
import { waitUntil, WaitTimeoutError } from '../../engine/wait.js';
import type { ClusterRole, ClusterTask, ClusterTaskContext } from '../../cluster/run.js';
import type { Change } from '../../engine/contract.js';
import type { ExecResult, RemoteHost } from '../../ssh/types.js';
import { execKubectl, outcome, outputTail, verifyPaths, type VerifyPaths } from '../verify/tools.js';
import { manifestStream, objectKey, objectLabel, type AddonObject } from './addon-manifests.js';
import { corednsObjects } from './coredns.js';
import { parseLiveObjects, type LiveObject } from './live-objects.js';

interface AddonChange extends Change {
  action: 'apply' | 'delete';
  object: AddonObject;
}

/** How long an applied Deployment may take to have an available replica (image pull included). */
const AVAILABLE_WAIT_MS = 180_000;
const KUBECTL_TIMEOUT_MS = 60_000;

function kubectl(host: RemoteHost, paths: VerifyPaths, args: readonly string[], stdin?: string): Promise<ExecResult> {
  return execKubectl(host, paths, args, { timeoutMs: KUBECTL_TIMEOUT_MS, ...(stdin !== undefined ? { stdin } : {}) });
}

async function readLive(host: RemoteHost, paths: VerifyPaths, objects: readonly AddonObject[]): Promise<Map<string, LiveObject> | ExecResult> {
  const r = await kubectl(host, paths, ['get', '-f', '-', '-o', 'json', '--ignore-not-found'], manifestStream(objects));
  return r.code === 0 ? parseLiveObjects(r.stdout) : r;
}

function corednsTask(ctx: ClusterTaskContext): ClusterTask<AddonChange> {
  const vars = ctx.run.inventory.hostVars(ctx.host.name);
  const objects = corednsObjects(ctx.render, vars);
  const self = ctx.run.topology.hosts.find((h) => h.name === ctx.host.name)!;
  const paths = verifyPaths(ctx.run.topology, self);
  const wanted = vars.dns_mode === 'coredns';
  return {
    name: wanted ? `CoreDNS add-on, its Service at ${vars.skydns_server}` : 'no CoreDNS add-on from kprov (dns_mode: none)',
    async check(host, tctx) {
      const live = await readLive(host, paths, objects);
      if (!(live instanceof Map)) {
        // In a plan of a cluster that does not exist yet there is no API to ask.
        if (tctx.dryRun && wanted) {
          tctx.warn(`could not read the add-on's objects (kubectl get ${outcome(live)}); assuming none exist`);
          return objects.map((object) => ({ kind: 'custom', action: 'apply', object, summary: `create ${objectLabel(object)}` }));
        }
        // dns_mode: none keeps its hands off: what cannot be read is not removed.
        if (!wanted) {
          tctx.warn(`could not look for CoreDNS objects kprov made earlier (kubectl get ${outcome(live)}); none removed`);
          return [];
        }
        throw new HostStepError(host.name, `reading the CoreDNS objects: kubectl get ${outcome(live)}`, outputTail(live));
      }
      const changes: AddonChange[] = [];
      for (const object of objects) {
        const found = live.get(objectKey(object));
        if (wanted && found?.sha256 !== object.sha256) {
          changes.push({ kind: 'custom', action: 'apply', object, summary: `${found ? 'update' : 'create'} ${objectLabel(object)}` });
        } else if (!wanted && found?.sha256 !== undefined) {
          changes.push({ kind: 'custom', action: 'delete', object, summary: `delete ${objectLabel(object)}` });
        }
      }
      if (wanted && changes.length === 0) {
        for (const [key, o] of live) {
          if (o.replicas && o.replicas.available < 1) tctx.warn(`${key.split('/').join(' ')}: no replica available (0 of ${o.replicas.wanted}); see kubectl -n kube-system get pods -l k8s-app=coredns`);
        }
      }
      return changes;
    },
    async apply(host, changes) {
      const toApply = changes.filter((c) => c.action === 'apply').map((c) => c.object);
      const toDelete = changes.filter((c) => c.action === 'delete').map((c) => c.object);
      if (toApply.length > 0) {
        const r = await kubectl(host, paths, ['apply', '--validate=false', '-f', '-'], manifestStream(toApply));
        if (r.code !== 0) throw new HostStepError(host.name, `applying ${toApply.map(objectLabel).join(', ')}: kubectl apply ${outcome(r)}`, outputTail(r));
      }
      if (toDelete.length > 0) {
        const r = await kubectl(host, paths, ['delete', '--ignore-not-found', '--wait=false', '-f', '-'], manifestStream([...toDelete].reverse()));
        if (r.code !== 0) throw new HostStepError(host.name, `deleting ${toDelete.map(objectLabel).join(', ')}: kubectl delete ${outcome(r)}`, outputTail(r));
      }
      const deployment = toApply.find((o) => o.kind === 'Deployment');
      if (deployment) await waitAvailable(host, paths, deployment);
    },
  };
}

/** Bounded wait until the applied Deployment has an available replica; a failure says why its pods are not. */
async function waitAvailable(host: RemoteHost, paths: VerifyPaths, deployment: AddonObject): Promise<void> {
  let last = '';
  try {
    await waitUntil(
      async () => {
        const live = await readLive(host, paths, [deployment]);
        if (!(live instanceof Map)) {
          last = `kubectl get ${outcome(live)}`;
          return undefined;
        }
        const replicas = live.get(objectKey(deployment))?.replicas;
        last = replicas ? `${replicas.available} of ${replicas.wanted} replicas available` : 'the Deployment is gone';
        return replicas && replicas.available >= 1 ? true : undefined;
      },
      { what: `${objectLabel(deployment)} to have an available replica`, timeoutMs: AVAILABLE_WAIT_MS, intervalMs: 2_000 },
    );
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    const pods = await kubectl(host, paths, ['get', 'pods', '-n', deployment.namespace ?? 'default', '-l', 'k8s-app=coredns', '-o', 'wide']);
    throw new HostStepError(host.name, `${objectLabel(deployment)} has no available replica after ${AVAILABLE_WAIT_MS / 1000} s (${last})`, outputTail(pods, 12), 'kubectl -n kube-system describe pods -l k8s-app=coredns shows why');
  }
}

/** The add-on is applied once per run, from the first control-plane host of the play. */
function dnsTasks(ctx: ClusterTaskContext): ClusterTask<AddonChange>[] {
  const inPlay = new Set(ctx.playHosts.map((h) => h.name));
  const driver = ctx.run.topology.controlPlane.find((h) => inPlay.has(h.name));
  return driver?.name === ctx.host.name ? [corednsTask(ctx)] : [];
}

export const dnsRole: ClusterRole = {
  name: 'dns',
  tags: ['dns', 'coredns', 'apps'],
  validate(ctx) {
    // Render every object once before any host is contacted: a broken value is bad input.
    for (const host of ctx.hosts.slice(0, 1)) corednsObjects(ctx.render, ctx.run.inventory.hostVars(host.name));
  },
  tasks: dnsTasks,
};
