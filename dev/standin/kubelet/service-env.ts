/**
 * The service environment variables a v1.13 kubelet gives every container (pkg/kubelet/envvars,
 * getServiceEnvVarMap): for `default/kubernetes` always, and for each service of the pod's
 * namespace with a cluster IP when `enableServiceLinks` (default true): `<NAME>_SERVICE_HOST`,
 * `<NAME>_SERVICE_PORT`, `<NAME>_SERVICE_PORT_<PORTNAME>` and the Docker link variables
 * `<NAME>_PORT`, `<NAME>_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}`.
 */
import { z } from 'zod';

export const envServiceSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string().optional() }),
  spec: z.looseObject({
    clusterIP: z.string().optional(),
    ports: z.array(z.looseObject({ name: z.string().optional(), port: z.number().int(), protocol: z.string().optional() })).nullish(),
  }),
});
export type EnvService = z.infer<typeof envServiceSchema>;

/** v1.13 makeEnvVariableName: upper case, '-' → '_'. */
export function envName(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** envvars.FromServices for one service. */
function serviceVars(svc: EnvService): Array<[string, string]> {
  const ip = svc.spec.clusterIP!;
  const ports = svc.spec.ports ?? [];
  const prefix = envName(svc.metadata.name);
  const out: Array<[string, string]> = [[`${prefix}_SERVICE_HOST`, ip]];
  if (ports.length === 0) return out;
  out.push([`${prefix}_SERVICE_PORT`, String(ports[0]!.port)]);
  for (const p of ports) if (p.name) out.push([`${prefix}_SERVICE_PORT_${envName(p.name)}`, String(p.port)]);
  ports.forEach((p, i) => {
    const protocol = p.protocol || 'TCP';
    const url = `${protocol.toLowerCase()}://${joinHostPort(ip, p.port)}`;
    if (i === 0) out.push([`${prefix}_PORT`, url]);
    const pp = `${prefix}_PORT_${p.port}_${protocol.toUpperCase()}`;
    out.push([pp, url], [`${pp}_PROTO`, protocol.toLowerCase()], [`${pp}_PORT`, String(p.port)], [`${pp}_ADDR`, ip]);
  });
  return out;
}

/** The variables for a pod in `namespace`, as a map (name → value). */
export function serviceEnv(services: readonly EnvService[], namespace: string, enableServiceLinks: boolean): Map<string, string> {
  const chosen = new Map<string, EnvService>();
  for (const svc of services) {
    const ip = svc.spec.clusterIP ?? '';
    if (ip === '' || ip === 'None') continue;
    const ns = svc.metadata.namespace ?? 'default';
    if (ns === 'default' && svc.metadata.name === 'kubernetes') {
      if (!chosen.has(svc.metadata.name)) chosen.set(svc.metadata.name, svc);
    } else if (ns === namespace && enableServiceLinks) {
      chosen.set(svc.metadata.name, svc);
    }
  }
  const out = new Map<string, string>();
  for (const name of [...chosen.keys()].sort()) for (const [k, v] of serviceVars(chosen.get(name)!)) out.set(k, v);
  return out;
}

/**
 * The services the kubelet knows, read from the API only when a container is about to be created
 * and at most every `ttlMs` (v1.13 keeps a service informer; an idle node here asks nothing).
 */
export class ServiceLister {
  private cached: EnvService[] = [];
  private at = 0;

  constructor(
    private readonly list: () => Promise<unknown>,
    private readonly ttlMs = 10_000,
  ) {}

  /**
   * The services as last read. An API that does not answer is not an error (v1.13 reads its
   * informer's cache, which is simply empty then): static pods start before the apiserver does.
   */
  async services(): Promise<EnvService[]> {
    if (Date.now() - this.at < this.ttlMs) return this.cached;
    let body: { items?: unknown };
    try {
      body = (await this.list()) as { items?: unknown };
    } catch {
      // Asked again after a quarter of the TTL.
      this.at = Date.now() - (this.ttlMs * 3) / 4;
      return this.cached;
    }
    const out: EnvService[] = [];
    for (const item of Array.isArray(body?.items) ? body.items : []) {
      const r = envServiceSchema.safeParse(item);
      if (r.success) out.push(r.data);
    }
    this.cached = out;
    this.at = Date.now();
    return out;
  }
}
