/**
 * kube-controller-manager v1.13 stand-in: checks flags and files, serves healthz on --address:--port
 * (10252), elects a leader through the kube-system/kube-controller-manager Endpoints, and while
 * leading runs the controllers --controllers enables among those it has: nodeipam and
 * nodelifecycle (node-controllers.ts), deployment, replicaset, endpoint, serviceaccount,
 * serviceaccount-token (with --service-account-private-key-file) and garbagecollector.
 */
import type { KeyObject } from 'node:crypto';
import { parseCidr } from '../common/cidr.js';
import { electionFromFlags, runControlPlane, type Controllers } from '../common/controlplane.js';
import { configError } from '../common/errors.js';
import type { Flags } from '../common/flags.js';
import { loadCertificates, loadKeyPair, loadPrivateKey, readFileFor } from '../common/files.js';
import { loadKubeconfig } from '../common/kubeconfig.js';
import { runComponent, type Component } from '../common/run.js';
import { controllerEnabled } from './controller-enabled.js';
import { startDeploymentController } from './deployment.js';
import { startEndpointController } from './endpoints.js';
import { startGarbageCollector } from './garbage-collector.js';
import { startNodeControllers, type NodeControllerOptions } from './node-controllers.js';
import { startReplicaSetController } from './replicaset.js';
import { startServiceAccountController, startTokenController } from './serviceaccounts.js';

/** Controller names a v1.13 kube-controller-manager knows (for --controllers). */
const knownControllers = new Set(
  `attachdetach bootstrapsigner clusterrole-aggregation cronjob csrapproving csrcleaner csrsigning daemonset
  deployment disruption endpoint garbagecollector horizontalpodautoscaling job namespace nodeipam nodelifecycle
  persistentvolume-binder persistentvolume-expander podgc pv-protection pvc-protection replicaset
  replicationcontroller resourcequota route service serviceaccount serviceaccount-token statefulset tokencleaner
  ttl ttl-after-finished`.split(/\s+/),
);

interface CmOptions extends Omit<NodeControllerOptions, 'ipam' | 'lifecycle'> {
  controllers: string[];
  serviceAccountKey?: KeyObject;
  rootCA?: Buffer;
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
  const keyFile = flags.string('service-account-private-key-file');
  return {
    controllers: flags.list('controllers', ['*']),
    ...(keyFile !== '' ? { serviceAccountKey: loadPrivateKey('--service-account-private-key-file', keyFile) } : {}),
    ...(flags.string('root-ca-file') !== '' ? { rootCA: readFileFor('--root-ca-file', flags.string('root-ca-file')) } : {}),
    allocateNodeCidrs,
    ...(clusterCidr ? { clusterCidr } : {}),
    nodeCidrMaskSize,
    nodeMonitorPeriodMs: flags.durationMs('node-monitor-period', 5_000),
    nodeMonitorGracePeriodMs: flags.durationMs('node-monitor-grace-period', 40_000),
  };
}

function controllers(opts: CmOptions): Controllers {
  let running: Array<{ stop(): void }> = [];
  return {
    start(client, log) {
      for (const r of running) r.stop();
      const on = (name: string) => controllerEnabled(opts.controllers, name);
      const started: string[] = [];
      running = [];
      const start = (name: string, run: () => { stop(): void }) => {
        running.push(run());
        started.push(name);
      };
      if (on('nodeipam') || on('nodelifecycle')) {
        start('nodeipam/nodelifecycle', () => startNodeControllers(client, log, { ...opts, ipam: on('nodeipam'), lifecycle: on('nodelifecycle') }));
      }
      if (on('deployment')) start('deployment', () => startDeploymentController(client, log));
      if (on('replicaset')) start('replicaset', () => startReplicaSetController(client, log));
      if (on('endpoint')) start('endpoint', () => startEndpointController(client, log));
      if (on('serviceaccount')) start('serviceaccount', () => startServiceAccountController(client, log));
      // v1.13 starts the token controller only with a signing key.
      if (on('serviceaccount-token') && opts.serviceAccountKey) {
        const key = opts.serviceAccountKey;
        // Without --root-ca-file the kubeconfig's CA goes into the secrets, as v1.13 does.
        start('serviceaccount-token', () => startTokenController(client, log, key, opts.rootCA ?? client.config.ca));
      }
      if (on('garbagecollector')) start('garbagecollector', () => startGarbageCollector(client, log));
      log.info(`Starting controllers: ${started.join(', ')}`);
    },
    stop() {
      for (const r of running) r.stop();
      running = [];
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
