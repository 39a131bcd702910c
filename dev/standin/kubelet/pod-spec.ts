/**
 * Pods as the kubelet reads them (from the API server's pod list and from static pod manifests):
 * the v1 fields it acts on, validated with zod where they enter, with the v1.13 API defaults filled
 * in for what a manifest may leave out (the API server has already defaulted its own pods).
 */
import { z } from 'zod';

const envVarSchema = z.looseObject({ name: z.string().min(1), value: z.string().optional() });
const intOrString = z.union([z.number().int(), z.string()]);
const probeSchema = z.looseObject({
  exec: z.looseObject({ command: z.array(z.string()).optional() }).optional(),
  httpGet: z
    .looseObject({
      path: z.string().optional(),
      port: intOrString,
      host: z.string().optional(),
      scheme: z.enum(['HTTP', 'HTTPS']).optional(),
      httpHeaders: z.array(z.looseObject({ name: z.string(), value: z.string() })).optional(),
    })
    .optional(),
  tcpSocket: z.looseObject({ port: intOrString, host: z.string().optional() }).optional(),
  initialDelaySeconds: z.number().int().min(0).optional(),
  timeoutSeconds: z.number().int().min(0).optional(),
  periodSeconds: z.number().int().min(0).optional(),
  successThreshold: z.number().int().min(0).optional(),
  failureThreshold: z.number().int().min(0).optional(),
});
export type ProbeSpec = z.infer<typeof probeSchema>;
const keyToPath = z.looseObject({ key: z.string(), path: z.string(), mode: z.number().int().optional() });
const volumeSchema = z.looseObject({
  name: z.string().min(1),
  secret: z.looseObject({ secretName: z.string().optional(), items: z.array(keyToPath).optional(), defaultMode: z.number().int().optional(), optional: z.boolean().optional() }).optional(),
  configMap: z.looseObject({ name: z.string().optional(), items: z.array(keyToPath).optional(), defaultMode: z.number().int().optional(), optional: z.boolean().optional() }).optional(),
  emptyDir: z.looseObject({ medium: z.string().optional() }).optional(),
  hostPath: z.looseObject({ path: z.string(), type: z.string().optional() }).optional(),
});
export type VolumeSpec = z.infer<typeof volumeSchema>;
const volumeMountSchema = z.looseObject({ name: z.string(), mountPath: z.string(), readOnly: z.boolean().optional(), subPath: z.string().optional() });
const portSchema = z.looseObject({
  name: z.string().optional(),
  containerPort: z.number().int().min(1).max(65535),
  hostPort: z.number().int().min(0).max(65535).optional(),
  hostIP: z.string().optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
});
const containerSchema = z.looseObject({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'must be a DNS-1123 label' }),
  image: z.string().min(1),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  env: z.array(envVarSchema).optional(),
  ports: z.array(portSchema).optional(),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  securityContext: z.looseObject({ privileged: z.boolean().optional() }).optional(),
  volumeMounts: z.array(volumeMountSchema).optional(),
  readinessProbe: probeSchema.optional(),
  livenessProbe: probeSchema.optional(),
  stdin: z.boolean().optional(),
  stdinOnce: z.boolean().optional(),
  tty: z.boolean().optional(),
  // Only an exec preStop hook runs (what kprov's static pods use); other handlers are logged and skipped.
  lifecycle: z.looseObject({ preStop: z.looseObject({ exec: z.looseObject({ command: z.array(z.string()).optional() }).optional() }).optional() }).optional(),
});

export const podSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.looseObject({
    name: z.string().min(1),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).nullish(),
    annotations: z.record(z.string(), z.string()).nullish(),
    deletionTimestamp: z.string().optional().nullable(),
    deletionGracePeriodSeconds: z.number().int().optional().nullable(),
    creationTimestamp: z.string().optional().nullable(),
  }),
  spec: z.looseObject({
    nodeName: z.string().optional(),
    containers: z.array(containerSchema).min(1),
    restartPolicy: z.enum(['Always', 'OnFailure', 'Never']).optional(),
    terminationGracePeriodSeconds: z.number().int().min(0).optional(),
    hostNetwork: z.boolean().optional(),
    hostPID: z.boolean().optional(),
    hostIPC: z.boolean().optional(),
    shareProcessNamespace: z.boolean().optional(),
    dnsPolicy: z.enum(['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']).optional(),
    dnsConfig: z
      .looseObject({
        nameservers: z.array(z.string()).optional(),
        searches: z.array(z.string()).optional(),
        options: z.array(z.looseObject({ name: z.string(), value: z.string().optional() })).optional(),
      })
      .optional(),
    hostname: z.string().optional(),
    subdomain: z.string().optional(),
    volumes: z.array(volumeSchema).optional(),
    enableServiceLinks: z.boolean().optional(),
  }),
  status: z.record(z.string(), z.unknown()).optional(),
});
export type PodInput = z.infer<typeof podSchema>;
export type ContainerSpec = z.infer<typeof containerSchema>;

/** A pod as the kubelet runs it: identity settled, v1 defaults applied. */
export interface Pod {
  name: string;
  namespace: string;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  containers: Array<ContainerSpec & { imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never' }>;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  terminationGracePeriodSeconds: number;
  hostNetwork: boolean;
  hostPID: boolean;
  hostIPC: boolean;
  shareProcessNamespace: boolean;
  dnsPolicy: 'ClusterFirst' | 'ClusterFirstWithHostNet' | 'Default' | 'None';
  dnsConfig?: PodInput['spec']['dnsConfig'];
  hostname?: string;
  subdomain?: string;
  volumes: VolumeSpec[];
  /** v1.13 default true: the service environment variables of the pod's namespace. */
  enableServiceLinks: boolean;
  /** The object as read, for the mirror pod of a static pod. */
  raw: PodInput;
}

export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
export const HASH_ANNOTATION = 'kubernetes.io/config.hash';
export const SOURCE_ANNOTATION = 'kubernetes.io/config.source';
export const SEEN_ANNOTATION = 'kubernetes.io/config.seen';

/** v1 defaulting of imagePullPolicy: Always for `:latest` or no tag, else IfNotPresent. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastPart.lastIndexOf(':');
  const tag = colon < 0 ? '' : lastPart.slice(colon + 1);
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

export function toPod(input: PodInput, uid: string): Pod {
  const { metadata, spec } = input;
  return {
    name: metadata.name,
    namespace: metadata.namespace || 'default',
    uid,
    labels: metadata.labels ?? {},
    annotations: metadata.annotations ?? {},
    ...(metadata.deletionTimestamp ? { deletionTimestamp: metadata.deletionTimestamp } : {}),
    ...(typeof metadata.deletionGracePeriodSeconds === 'number' ? { deletionGracePeriodSeconds: metadata.deletionGracePeriodSeconds } : {}),
    containers: spec.containers.map((c) => ({ ...c, imagePullPolicy: c.imagePullPolicy ?? defaultPullPolicy(c.image) })),
    restartPolicy: spec.restartPolicy ?? 'Always',
    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? 30,
    hostNetwork: spec.hostNetwork ?? false,
    hostPID: spec.hostPID ?? false,
    hostIPC: spec.hostIPC ?? false,
    shareProcessNamespace: spec.shareProcessNamespace ?? false,
    dnsPolicy: spec.dnsPolicy ?? 'ClusterFirst',
    ...(spec.dnsConfig ? { dnsConfig: spec.dnsConfig } : {}),
    ...(spec.hostname ? { hostname: spec.hostname } : {}),
    ...(spec.subdomain ? { subdomain: spec.subdomain } : {}),
    volumes: spec.volumes ?? [],
    enableServiceLinks: spec.enableServiceLinks ?? true,
    raw: input,
  };
}

/** `namespace/name`, as logs and the containerLogs path name a pod. */
export function podKey(pod: { namespace: string; name: string }): string {
  return `${pod.namespace}/${pod.name}`;
}

/** `name_namespace(uid)`, as v1.13 names a pod in its log lines (format.Pod). */
export function podDesc(pod: Pod): string {
  return `${pod.name}_${pod.namespace}(${pod.uid})`;
}
