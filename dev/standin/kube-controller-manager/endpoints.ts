/**
 * The endpoint controller (v1.13 pkg/controller/endpoint): for every Service with a selector
 * (default/kubernetes excepted: the apiservers keep its Endpoints), the pods of its namespace that
 * match, have an IP and are not being deleted: ready ones as `addresses`, the others as
 * `notReadyAddresses` (all as addresses with publishNotReadyAddresses or the tolerate-unready
 * annotation), each `{ip, nodeName, targetRef}`; ports from each service port's targetPort, a
 * number or a container port's name (a pod without that name is left out of that port). Pods with
 * the same ports share a subset. Endpoints carry the Service's labels, are written only when they
 * change, and go with their Service.
 */
import type { ApiClient } from '../common/client.js';
import { ApiError } from '../common/client.js';
import type { Logger } from '../common/klog.js';
import { runController, controllerManagerResyncMs, type ControllerLoop } from '../common/watch-loop.js';
import { arr, groupByNamespace, isPodReady, sameJson, labelsOf, listItems, meta, nameOf, namespaceOf, rec, type Rec } from './objects.js';

const TOLERATE_UNREADY = 'service.alpha.kubernetes.io/tolerate-unready-endpoints';

/** The port a pod serves for a service port: targetPort as a number, or a named container port. */
export function resolveTargetPort(pod: Rec, servicePort: Rec): number | undefined {
  const target = servicePort.targetPort ?? servicePort.port;
  if (typeof target === 'number') return target;
  if (typeof target === 'string' && /^\d+$/.test(target)) return Number(target);
  for (const c of arr(rec(pod.spec).containers)) {
    for (const p of arr(c.ports)) if (p.name === target && (p.protocol ?? 'TCP') === (servicePort.protocol ?? 'TCP') && typeof p.containerPort === 'number') return p.containerPort;
  }
  return undefined;
}

/** The subsets of a Service's Endpoints from the pods of its namespace. */
export function endpointSubsets(service: Rec, pods: Rec[]): Rec[] {
  const spec = rec(service.spec);
  const selector = rec(spec.selector) as Record<string, string>;
  const tolerate = spec.publishNotReadyAddresses === true || rec(meta(service).annotations)[TOLERATE_UNREADY] === 'true';
  const bySignature = new Map<string, { ports: Rec[]; addresses: Rec[]; notReadyAddresses: Rec[] }>();
  for (const pod of pods) {
    const labels = labelsOf(pod);
    if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
    const ip = rec(pod.status).podIP;
    if (typeof ip !== 'string' || ip === '' || meta(pod).deletionTimestamp) continue;
    const ports: Rec[] = [];
    for (const sp of arr(spec.ports)) {
      const port = resolveTargetPort(pod, sp);
      if (port === undefined) continue;
      ports.push({ ...(typeof sp.name === 'string' && sp.name !== '' ? { name: sp.name } : {}), port, protocol: sp.protocol ?? 'TCP' });
    }
    if (ports.length === 0 && arr(spec.ports).length > 0) continue;
    const nodeName = rec(pod.spec).nodeName;
    const address: Rec = {
      ip,
      ...(typeof nodeName === 'string' && nodeName !== '' ? { nodeName } : {}),
      targetRef: { kind: 'Pod', namespace: namespaceOf(pod), name: nameOf(pod), uid: meta(pod).uid, resourceVersion: meta(pod).resourceVersion },
    };
    const key = JSON.stringify(ports);
    const subset = bySignature.get(key) ?? { ports, addresses: [], notReadyAddresses: [] };
    (tolerate || isPodReady(pod) ? subset.addresses : subset.notReadyAddresses).push(address);
    bySignature.set(key, subset);
  }
  const byIp = (a: Rec, b: Rec) => (String(a.ip) < String(b.ip) ? -1 : String(a.ip) > String(b.ip) ? 1 : 0);
  return [...bySignature.values()].map((s) => ({
    ...(s.addresses.length ? { addresses: s.addresses.sort(byIp) } : {}),
    ...(s.notReadyAddresses.length ? { notReadyAddresses: s.notReadyAddresses.sort(byIp) } : {}),
    ports: s.ports,
  }));
}

async function syncNamespace(client: ApiClient, log: Logger, ns: string, services: Rec[], pods: Rec[], endpoints: Rec[]): Promise<void> {
  const path = `/api/v1/namespaces/${ns}/endpoints`;
  for (const svc of services) {
    const name = nameOf(svc);
    if (ns === 'default' && name === 'kubernetes') continue;
    if (Object.keys(rec(rec(svc.spec).selector)).length === 0) continue;
    const subsets = endpointSubsets(svc, pods);
    const current = endpoints.find((e) => nameOf(e) === name);
    const labels = labelsOf(svc);
    if (current) {
      if (sameJson(current.subsets ?? [], subsets) && sameJson(labelsOf(current), labels)) continue;
      await client.call('PUT', `${path}/${name}`, { ...current, metadata: { ...meta(current), labels }, subsets });
    } else {
      await client.call('POST', path, { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace: ns, labels }, subsets });
      log.info(`Created Endpoints ${ns}/${name}`);
    }
  }
  // Endpoints of a Service that is gone (only those this controller could have made: no leader lock).
  for (const ep of endpoints) {
    if (services.some((s) => nameOf(s) === nameOf(ep)) || rec(meta(ep).annotations)['control-plane.alpha.kubernetes.io/leader'] !== undefined) continue;
    if (ns === 'default' && nameOf(ep) === 'kubernetes') continue;
    if (arr(meta(ep).ownerReferences).length > 0) continue;
    if (!arr(ep.subsets).some((s) => arr(s.addresses).concat(arr(s.notReadyAddresses)).some((a) => rec(a.targetRef).kind === 'Pod'))) continue;
    await client.call('DELETE', `${path}/${nameOf(ep)}`).catch((err: unknown) => {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    });
  }
}

export function startEndpointController(client: ApiClient, log: Logger): ControllerLoop {
  return runController('endpoint', client, log, ['/api/v1/services', '/api/v1/pods'], async () => {
    const [services, pods, endpoints] = await Promise.all([listItems(client, '/api/v1/services'), listItems(client, '/api/v1/pods'), listItems(client, '/api/v1/endpoints')]);
    const svcByNs = groupByNamespace(services);
    const podsByNs = groupByNamespace(pods);
    const epByNs = groupByNamespace(endpoints);
    for (const ns of new Set([...svcByNs.keys(), ...epByNs.keys()])) {
      await syncNamespace(client, log, ns, svcByNs.get(ns) ?? [], podsByNs.get(ns) ?? [], epByNs.get(ns) ?? []);
    }
  }, controllerManagerResyncMs());
}
