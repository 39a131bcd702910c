/**
 * The flags each v1.13 component accepts, from the project's vendored reference
 * (src/k8s/flags-v1.13.json), plus the value type of every flag that is not a free string (the
 * reference lists names only; the types come from the same AddFlags registrations).
 */
import { z } from 'zod';
import flagsJson from '../../../src/k8s/flags-v1.13.json' with { type: 'json' };
import type { FlagSetSpec, FlagType } from './flags.js';
import { patchOf } from './version.js';

export type ComponentName = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubelet' | 'kube-proxy';

const componentSchema = z.object({
  flags: z.array(z.string()),
  deprecated_but_accepted: z.array(z.string()).optional(),
  hidden_but_accepted: z.array(z.string()).optional(),
  added_in_patch: z.record(z.string(), z.string()).optional(),
});
const referenceSchema = z.record(z.string(), z.unknown());

const words = (text: string) => text.split(/\s+/).filter((w) => w !== '');

/** klog and verflag flags every component registers. */
const globalTypes: Record<FlagType, string> = {
  bool: 'alsologtostderr logtostderr skip-headers help',
  version: 'version',
  int: 'v',
  uint: '',
  float: '',
  duration: 'log-flush-frequency',
  string: '',
};

const componentTypes: Record<ComponentName, Partial<Record<FlagType, string>>> = {
  'kube-apiserver': {
    bool: `allow-privileged anonymous-auth audit-dynamic-configuration audit-log-batch-throttle-enable
      audit-log-truncate-enabled audit-webhook-batch-throttle-enable audit-webhook-truncate-enabled
      contention-profiling enable-aggregator-routing enable-bootstrap-token-auth enable-garbage-collector
      enable-logs-handler enable-swagger-ui kubelet-https profiling repair-malformed-updates
      service-account-lookup watch-cache`,
    int: `apiserver-count audit-log-batch-buffer-size audit-log-batch-max-size audit-log-batch-throttle-burst
      audit-log-maxage audit-log-maxbackup audit-log-maxsize audit-log-truncate-max-batch-size
      audit-log-truncate-max-event-size audit-webhook-batch-buffer-size audit-webhook-batch-max-size
      audit-webhook-batch-throttle-burst audit-webhook-truncate-max-batch-size
      audit-webhook-truncate-max-event-size default-not-ready-toleration-seconds
      default-unreachable-toleration-seconds default-watch-cache-size delete-collection-workers
      deserialization-cache-size http2-max-streams-per-connection insecure-port kubernetes-service-node-port
      max-connection-bytes-per-sec max-mutating-requests-inflight max-requests-inflight min-request-timeout
      port secure-port target-ram-mb`,
    uint: 'kubelet-port kubelet-read-only-port',
    float: 'audit-log-batch-throttle-qps audit-webhook-batch-throttle-qps',
    duration: `audit-log-batch-max-wait audit-webhook-batch-initial-backoff audit-webhook-batch-max-wait
      audit-webhook-initial-backoff authentication-token-webhook-cache-ttl
      authorization-webhook-cache-authorized-ttl authorization-webhook-cache-unauthorized-ttl
      etcd-compaction-interval etcd-count-metric-poll-period event-ttl kubelet-timeout request-timeout
      service-account-max-token-expiration`,
  },
  'kube-controller-manager': {
    bool: `allocate-node-cidrs allow-untagged-cloud authentication-skip-lookup authentication-tolerate-lookup-failure
      configure-cloud-routes contention-profiling disable-attach-detach-reconcile-sync enable-dynamic-provisioning
      enable-garbage-collector enable-hostpath-provisioner enable-taint-manager
      horizontal-pod-autoscaler-use-rest-clients leader-elect profiling use-service-account-credentials`,
    int: `concurrent-deployment-syncs concurrent-endpoint-syncs concurrent-gc-syncs concurrent-namespace-syncs
      concurrent-replicaset-syncs concurrent-resource-quota-syncs concurrent-service-syncs
      concurrent-serviceaccount-token-syncs concurrent-ttl-after-finished-syncs concurrent_rc_syncs
      deleting-pods-burst http2-max-streams-per-connection kube-api-burst large-cluster-size-threshold
      node-cidr-mask-size port pv-recycler-increment-timeout-nfs pv-recycler-minimum-timeout-hostpath
      pv-recycler-minimum-timeout-nfs pv-recycler-timeout-increment-hostpath register-retry-count secure-port
      terminated-pod-gc-threshold`,
    float: `deleting-pods-qps horizontal-pod-autoscaler-tolerance kube-api-qps node-eviction-rate
      secondary-node-eviction-rate unhealthy-zone-threshold`,
    duration: `attach-detach-reconcile-sync-period authentication-token-webhook-cache-ttl
      authorization-webhook-cache-authorized-ttl authorization-webhook-cache-unauthorized-ttl
      controller-start-interval deployment-controller-sync-period experimental-cluster-signing-duration
      horizontal-pod-autoscaler-cpu-initialization-period horizontal-pod-autoscaler-downscale-delay
      horizontal-pod-autoscaler-downscale-stabilization horizontal-pod-autoscaler-initial-readiness-delay
      horizontal-pod-autoscaler-sync-period horizontal-pod-autoscaler-upscale-delay leader-elect-lease-duration
      leader-elect-renew-deadline leader-elect-retry-period min-resync-period namespace-sync-period
      node-monitor-grace-period node-monitor-period node-startup-grace-period node-sync-period
      pod-eviction-timeout pvclaimbinder-sync-period resource-quota-sync-period route-reconciliation-period`,
  },
  'kube-scheduler': {
    bool: `authentication-skip-lookup authentication-tolerate-lookup-failure contention-profiling leader-elect
      profiling use-legacy-policy-config`,
    int: 'hard-pod-affinity-symmetric-weight http2-max-streams-per-connection kube-api-burst port secure-port',
    float: 'kube-api-qps',
    duration: `authentication-token-webhook-cache-ttl authorization-webhook-cache-authorized-ttl
      authorization-webhook-cache-unauthorized-ttl leader-elect-lease-duration leader-elect-renew-deadline
      leader-elect-retry-period`,
  },
  kubelet: {
    bool: `allow-privileged anonymous-auth authentication-token-webhook cgroups-per-qos containerized
      contention-profiling cpu-cfs-quota docker-only docker-tls enable-controller-attach-detach
      enable-debugging-handlers enable-load-reader enable-server exit-on-lock-contention
      experimental-allocatable-ignore-eviction experimental-check-node-capabilities-before-mount
      experimental-dockershim experimental-fail-swap-on experimental-kernel-memcg-notification fail-swap-on
      keep-terminated-pod-volumes log-cadvisor-usage make-iptables-util-chains protect-kernel-defaults
      really-crash-for-testing redirect-container-streaming register-node register-schedulable
      rotate-certificates rotate-server-certificates runonce serialize-image-pulls storage-driver-secure`,
    int: `application-metrics-count-limit container-log-max-files event-burst event-qps
      eviction-max-pod-grace-period healthz-port image-gc-high-threshold image-gc-low-threshold
      iptables-drop-bit iptables-masquerade-bit kube-api-burst kube-api-qps max-open-files max-pods
      maximum-dead-containers maximum-dead-containers-per-container network-plugin-mtu node-status-max-images
      oom-score-adj pod-max-pids pods-per-core port read-only-port registry-burst registry-qps`,
    float: 'chaos-chance',
    duration: `authentication-token-webhook-cache-ttl authorization-webhook-cache-authorized-ttl
      authorization-webhook-cache-unauthorized-ttl cpu-cfs-quota-period cpu-manager-reconcile-period
      eviction-pressure-transition-period file-check-frequency global-housekeeping-interval
      housekeeping-interval http-check-frequency image-pull-progress-deadline minimum-container-ttl-duration
      minimum-image-ttl-duration node-status-update-frequency runtime-request-timeout
      storage-driver-buffer-duration streaming-connection-idle-timeout sync-frequency volume-stats-agg-period`,
  },
  'kube-proxy': {
    bool: 'cleanup cleanup-iptables cleanup-ipvs ipvs-strict-arp masquerade-all profiling',
    int: `conntrack-max conntrack-max-per-core conntrack-min healthz-port iptables-masquerade-bit kube-api-burst
      metrics-port oom-score-adj`,
    float: 'kube-api-qps',
    duration: `config-sync-period conntrack-tcp-timeout-close-wait conntrack-tcp-timeout-established
      iptables-min-sync-period iptables-sync-period ipvs-min-sync-period ipvs-sync-period udp-timeout`,
  },
};

/** The flag set a component of `version` (v1.13.N) accepts. */
export function flagSetSpec(component: ComponentName, version: string): FlagSetSpec {
  const reference = referenceSchema.parse(flagsJson);
  const entry = componentSchema.parse(reference[component]);
  const patch = patchOf(version);
  const accepted = new Set<string>([
    ...entry.flags,
    ...(entry.deprecated_but_accepted ?? []),
    ...(entry.hidden_but_accepted ?? []),
  ]);
  for (const [flag, since] of Object.entries(entry.added_in_patch ?? {})) {
    const m = /v1\.13\.(\d+)/.exec(since);
    if (m && patch >= Number(m[1])) accepted.add(flag);
  }
  const types = new Map<string, FlagType>();
  for (const table of [globalTypes, componentTypes[component]]) {
    for (const [type, names] of Object.entries(table) as [FlagType, string | undefined][]) {
      for (const name of words(names ?? '')) types.set(name, type);
    }
  }
  return {
    command: component,
    accepted,
    types,
    shorthands: new Map([
      ['v', 'v'],
      ['h', 'help'],
    ]),
    normalizeUnderscores: component === 'kubelet',
  };
}
