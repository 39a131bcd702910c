/**
 * Pods as the v1.13 apiserver creates them: defaulting (restartPolicy, dnsPolicy, grace period,
 * scheduler name, pull policy, the default service account), validation of what a pod needs to
 * run, status reset to Pending with its QoS class, and the DefaultTolerationSeconds admission's
 * not-ready/unreachable tolerations.
 */
import { z } from 'zod';
import { StatusError, type Obj } from './registry.js';

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const quantity = z.union([z.string(), z.number()]);
const resourcesSchema = z.looseObject({ requests: z.record(z.string(), quantity).optional(), limits: z.record(z.string(), quantity).optional() });
const containerSchema = z.looseObject({
  name: z.string().optional(),
  image: z.string().optional(),
  imagePullPolicy: z.string().optional(),
  resources: resourcesSchema.optional(),
  ports: z.array(z.looseObject({ containerPort: z.number().optional(), protocol: z.string().optional() })).optional(),
});
export type PodContainer = z.infer<typeof containerSchema>;

const podSpecSchema = z.looseObject({
  containers: z.array(containerSchema).optional(),
  restartPolicy: z.string().optional(),
  dnsPolicy: z.string().optional(),
  nodeName: z.string().optional(),
  schedulerName: z.string().optional(),
  terminationGracePeriodSeconds: z.number().optional(),
  tolerations: z.array(z.looseObject({ key: z.string().optional(), operator: z.string().optional(), effect: z.string().optional() })).optional(),
});
export type PodSpec = z.infer<typeof podSpecSchema>;

export function podSpecOf(pod: Obj): PodSpec {
  const parsed = podSpecSchema.safeParse(pod.spec ?? {});
  return parsed.success ? parsed.data : {};
}

const invalid = (name: string, causes: string[]) =>
  new StatusError(422, 'Invalid', `Pod "${name}" is invalid: ${causes.length === 1 ? causes[0]! : `[${causes.join(', ')}]`}`, { name, kind: 'Pod' });

/** The v1.13 image pull policy default: Always for `:latest` or no tag, else IfNotPresent. */
function defaultPullPolicy(image: string): string {
  const last = image.split('/').at(-1) ?? image;
  if (last.includes('@')) return 'IfNotPresent';
  const tag = last.includes(':') ? last.slice(last.lastIndexOf(':') + 1) : 'latest';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function qosClass(containers: PodContainer[]): string {
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const requests = c.resources?.requests ?? {};
    const limits = c.resources?.limits ?? {};
    if (Object.keys(requests).length + Object.keys(limits).length > 0) any = true;
    for (const r of ['cpu', 'memory']) {
      const limit = limits[r];
      const request = requests[r] ?? limit;
      if (limit === undefined || String(request) !== String(limit)) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

const notReadyTolerations = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'];

/**
 * SetDefaults_PodSpec and the container defaults of v1.13, with the validation causes of what a pod
 * needs to run; `path` prefixes the causes (`spec`, `spec.template.spec`). Pods and the pod
 * templates of Deployments and ReplicaSets both get these.
 */
export function defaultPodSpec(input: Record<string, unknown>, path: string): { spec: Record<string, unknown>; causes: string[] } {
  const spec = { ...input };
  const parsed = podSpecSchema.safeParse(input);
  const ps: PodSpec = parsed.success ? parsed.data : {};
  const causes: string[] = [];
  const containers = (Array.isArray(spec.containers) ? spec.containers : []) as Array<Record<string, unknown>>;
  if (containers.length === 0) causes.push(`${path}.containers: Required value`);
  const seen = new Set<string>();
  const defaulted = containers.map((raw, i) => {
    const c = ps.containers?.[i] ?? {};
    const cname = c.name ?? '';
    if (cname === '') causes.push(`${path}.containers[${i}].name: Required value`);
    else if (!dns1123Label.test(cname) || cname.length > 63) causes.push(`${path}.containers[${i}].name: Invalid value: "${cname}": a DNS-1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`);
    else if (seen.has(cname)) causes.push(`${path}.containers[${i}].name: Duplicate value: "${cname}"`);
    seen.add(cname);
    const image = c.image ?? '';
    if (image.trim() === '') causes.push(`${path}.containers[${i}].image: Required value`);
    return {
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      resources: {},
      ...raw,
      imagePullPolicy: c.imagePullPolicy ?? defaultPullPolicy(image),
      ...(Array.isArray(raw.ports) ? { ports: (raw.ports as Array<Record<string, unknown>>).map((p) => ({ protocol: 'TCP', ...p })) } : {}),
    };
  });
  const restartPolicy = ps.restartPolicy ?? 'Always';
  if (!['Always', 'OnFailure', 'Never'].includes(restartPolicy)) causes.push(`${path}.restartPolicy: Unsupported value: "${restartPolicy}": supported values: "Always", "OnFailure", "Never"`);
  const dnsPolicy = ps.dnsPolicy ?? 'ClusterFirst';
  if (!['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'].includes(dnsPolicy)) causes.push(`${path}.dnsPolicy: Unsupported value: "${dnsPolicy}"`);
  return {
    spec: {
      ...spec,
      containers: defaulted,
      restartPolicy,
      dnsPolicy,
      terminationGracePeriodSeconds: ps.terminationGracePeriodSeconds ?? 30,
      schedulerName: ps.schedulerName ?? 'default-scheduler',
      securityContext: spec.securityContext ?? {},
    },
    causes,
  };
}

/** Defaults, validates and resets the status of a pod being created. */
export function preparePodForCreate(input: Obj, name: string): Obj {
  const { spec, causes } = defaultPodSpec((input.spec ?? {}) as Record<string, unknown>, 'spec');
  const parsed = podSpecOf(input);
  if (causes.length > 0) throw invalid(name, causes);

  const tolerations = [...(parsed.tolerations ?? [])] as Array<Record<string, unknown>>;
  for (const key of notReadyTolerations) {
    const tolerated = tolerations.some((t) => (t.key === key || (t.key === undefined && t.operator === 'Exists')) && (t.effect === undefined || t.effect === 'NoExecute'));
    if (!tolerated) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
  }
  const serviceAccountName = typeof spec.serviceAccountName === 'string' && spec.serviceAccountName !== '' ? spec.serviceAccountName : 'default';
  return {
    ...input,
    spec: {
      ...spec,
      serviceAccountName,
      serviceAccount: serviceAccountName,
      priority: typeof spec.priority === 'number' ? spec.priority : 0,
      enableServiceLinks: spec.enableServiceLinks ?? true,
      tolerations,
    },
    status: { phase: 'Pending', qosClass: qosClass(parsed.containers ?? []) },
  };
}

/** Whether a pod has ended: a graceful deletion is pointless then (the kubelet has nothing to stop). */
export function podTerminated(pod: Obj): boolean {
  const phase = ((pod.status ?? {}) as Record<string, unknown>).phase;
  return phase === 'Succeeded' || phase === 'Failed';
}
