/**
 * kube-controller-manager v1.13 stand-in: checks flags and files, serves healthz on --address:--port
 * (10252), elects a leader through the kube-system/kube-controller-manager Endpoints, and while
 * leading runs the two controllers a provisioner can observe: node IPAM (podCIDR per node with
 * --allocate-node-cidrs) and node lifecycle (Ready=Unknown once a kubelet stops posting status).
 */
import type { ApiClient } from '../common/client.js';
import { parseCidr, intToIpv4, networkOf } from '../common/cidr.js';
import { electionFromFlags, runControlPlane, type Controllers } from '../common/controlplane.js';
import { configError, messageOf } from '../common/errors.js';
import type { Flags } from '../common/flags.js';
import { loadCertificates, loadKeyPair, loadPrivateKey, readFileFor } from '../common/files.js';
import type { Logger } from '../common/klog.js';
import { loadKubeconfig } from '../common/kubeconfig.js';
import { kubeTime, nodeListSchema } from '../common/objects.js';
import { runComponent, type Component } from '../common/run.js';

/** Controller names a v1.13 kube-controller-manager knows (for --controllers). */
const knownControllers = new Set(
  `attachdetach bootstrapsigner clusterrole-aggregation cronjob csrapproving csrcleaner csrsigning daemonset
  deployment disruption endpoint garbagecollector horizontalpodautoscaling job namespace nodeipam nodelifecycle
  persistentvolume-binder persistentvolume-expander podgc pv-protection pvc-protection replicaset
  replicationcontroller resourcequota route service serviceaccount serviceaccount-token statefulset tokencleaner
  ttl ttl-after-finished`.split(/\s+/),
);

interface CmOptions {
  allocateNodeCidrs: boolean;
  clusterCidr?: ReturnType<typeof parseCidr>;
  nodeCidrMaskSize: number;
  nodeMonitorPeriodMs: number;
  nodeMonitorGracePeriodMs: number;
}

function checkFiles(flags: Flags): void {
  for (const f of ['root-ca-file', 'client-ca-file', 'requestheader-client-ca-file']) {
    if (flags.string(f) !== '') loadCertificates(`--${f}`, flags.string(f));
  }
  if (flags.string('service-account-private-key-file') !== '') loadPrivateKey('--service-account-private-key-file', flags.string('service-account-private-key-file'));
  // The signing pair has defaults (/etc/kubernetes/ca/ca.pem); only pairs named on the command line must exist.
  if (flags.has('cluster-signing-cert-file') || flags.has('cluster-signing-key-file')) {
    loadKeyPair('--cluster-signing-cert-file', flags.string('cluster-signing-cert-file', '/etc/kubernetes/ca/ca.pem'), '--cluster-signing-key-file', flags.string('cluster-signing-key-file', '/etc/kubernetes/ca/ca.key'));
  }
  if ((flags.string('tls-cert-file') === '') !== (flags.string('tls-private-key-file') === '')) throw configError('--tls-cert-file and --tls-private-key-file must be specified together');
  if (flags.string('tls-cert-file') !== '') loadKeyPair('--tls-cert-file', flags.string('tls-cert-file'), '--tls-private-key-file', flags.string('tls-private-key-file'));
  for (const f of ['authentication-kubeconfig', 'authorization-kubeconfig']) if (flags.string(f) !== '') loadKubeconfig(`--${f}`, flags.string(f));
  for (const f of ['cloud-config', 'pv-recycler-pod-template-filepath-nfs', 'pv-recycler-pod-template-filepath-hostpath']) {
    if (flags.string(f) !== '') readFileFor(`--${f}`, flags.string(f));
  }
}

function loadOptions(flags: Flags): CmOptions {
  for (const c of flags.list('controllers', ['*'])) {
    const name = c.startsWith('-') ? c.slice(1) : c;
    if (name !== '*' && !knownControllers.has(name)) throw configError(`"${name}" is not in the list of known controllers`);
  }
  const allocateNodeCidrs = flags.bool('allocate-node-cidrs', false);
  const nodeCidrMaskSize = flags.int('node-cidr-mask-size', 24);
  let clusterCidr: CmOptions['clusterCidr'];
  if (flags.string('cluster-cidr') !== '') {
    clusterCidr = parseCidr(flags.string('cluster-cidr'));
    if (!clusterCidr) throw configError(`Unsuccessful parsing of cluster CIDR ${flags.string('cluster-cidr')}: invalid CIDR address: ${flags.string('cluster-cidr')}`);
  }
  if (allocateNodeCidrs) {
    if (!clusterCidr) throw configError('Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than --node-cidr-mask-size');
    if (clusterCidr.family !== 4) throw configError('the stand-in allocates IPv4 pod CIDRs only');
    if (clusterCidr.bits >= nodeCidrMaskSize) throw configError('Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than --node-cidr-mask-size');
  }
  return {
    allocateNodeCidrs,
    ...(clusterCidr ? { clusterCidr } : {}),
    nodeCidrMaskSize,
    nodeMonitorPeriodMs: flags.durationMs('node-monitor-period', 5_000),
    nodeMonitorGracePeriodMs: flags.durationMs('node-monitor-grace-period', 40_000),
  };
}

function controllers(opts: CmOptions): Controllers {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const sync = async (client: ApiClient, log: Logger) => {
    const nodes = nodeListSchema.parse(await client.call('GET', '/api/v1/nodes')).items ?? [];
    if (opts.allocateNodeCidrs && opts.clusterCidr) {
      const c = opts.clusterCidr;
      const size = 2 ** (32 - opts.nodeCidrMaskSize);
      const base = networkOf(c);
      const used = new Set(nodes.map((n) => n.spec?.podCIDR).filter((x): x is string => !!x));
      for (const node of nodes.filter((n) => !n.spec?.podCIDR)) {
        let cidr: string | undefined;
        for (let i = 0; i < 2 ** (opts.nodeCidrMaskSize - c.bits); i++) {
          const candidate = `${intToIpv4(base + i * size)}/${opts.nodeCidrMaskSize}`;
          if (!used.has(candidate)) {
            cidr = candidate;
            break;
          }
        }
        if (!cidr) {
          log.error(`Error allocating CIDR for node ${node.metadata.name}: CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range`);
          continue;
        }
        used.add(cidr);
        await client.call('PATCH', `/api/v1/nodes/${node.metadata.name}`, { spec: { podCIDR: cidr } }, 'application/strategic-merge-patch+json');
        log.info(`Set node ${node.metadata.name} PodCIDR to ${cidr}`);
      }
    }
    const now = Date.now();
    for (const node of nodes) {
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
      if (!ready || ready.status === 'Unknown' || !ready.lastHeartbeatTime) continue;
      if (now - Date.parse(ready.lastHeartbeatTime) <= opts.nodeMonitorGracePeriodMs) continue;
      const at = kubeTime();
      await client.call(
        'PATCH',
        `/api/v1/nodes/${node.metadata.name}/status`,
        { status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: ready.lastHeartbeatTime, lastTransitionTime: at }] } },
        'application/strategic-merge-patch+json',
      );
      log.info(`Node ${node.metadata.name} hasn't been updated for longer than the grace period; marking it Unknown`);
    }
  };
  return {
    start(client, log) {
      log.info('Starting controllers: nodeipam, nodelifecycle');
      const loop = () => {
        void sync(client, log)
          .catch((err: unknown) => log.error(`node controllers: ${messageOf(err)}`))
          .finally(() => {
            if (!stopped) timer = setTimeout(loop, opts.nodeMonitorPeriodMs);
          });
      };
      loop();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

const controllerManager: Component = {
  name: 'kube-controller-manager',
  source: 'controllermanager.go',
  async start(flags, ctx) {
    checkFiles(flags);
    const opts = loadOptions(flags);
    return runControlPlane(
      {
        kubeconfigOrigin: '--kubeconfig',
        kubeconfig: flags.string('kubeconfig'),
        ...(flags.string('master') ? { master: flags.string('master') } : {}),
        healthzAddress: flags.string('address', '0.0.0.0'),
        healthzPort: flags.int('port', 10252),
        election: electionFromFlags(flags, { namespace: 'kube-system', name: 'kube-controller-manager' }),
      },
      controllers(opts),
      ctx,
    );
  },
};

runComponent(controllerManager);
