/**
 * The cluster PKI for a run: made from the topology, kept under `<inventory>/pki/`, issued or
 * checked once per run on the control host (the first role to ask triggers it), then each role
 * pushes the files its service reads with pkiFileTasks. A dry run works on a temporary copy,
 * so a plan shows the certificates a real run would issue without writing any.
 */
import { cp, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { directory, file } from '../engine/tasks/index.js';
import type { Inventory } from '../inventory/load.js';
import {
  ensurePki,
  filesForHost,
  kubeconfigSet,
  kubeconfigsForHost,
  parsePkiInput,
  planCertificates,
  PKI_DIR_NAME,
  type CertSpec,
  type FilePart,
  type HostKubeconfig,
  type HostRole,
  type PkiInput,
  type PkiConsumer,
  type PkiReader,
  type PkiReport,
} from '../pki/index.js';
import { readPkiState, rememberedVerdict, rememberVerdict } from '../pki/verified.js';
import type { Task } from '../engine/contract.js';
import type { ClusterTaskContext } from './run.js';
import { buildTopology, type ClusterHost, type Topology } from './topology.js';

/** One PKI file a host receives, with its bytes. */
export interface PkiHostFile {
  /** Absolute path on the host. */
  path: string;
  mode: number;
  content: Buffer;
  /** Private keys and kubeconfigs (which embed one): never shown in diffs or logs. */
  secret: boolean;
  /** The spec it comes from (`apiserver`, `etcd/server-node1`, `admin` …). */
  spec: string;
  part: FilePart | 'kubeconfig';
  /** The services on the host that read it, from the certificate table. */
  readers: readonly PkiConsumer[];
}

export interface ClusterPki {
  /** `<inventory>/pki` (in a dry run the files come from a temporary copy, already removed). */
  dir: string;
  input: PkiInput;
  plan: readonly CertSpec[];
  report: PkiReport;
  /** Reissued certificates and CA notices, for the user. */
  warnings: string[];
  /** Certificates and keys `host` receives for `roles`. */
  filesForHost(host: string, roles: readonly HostRole[]): PkiHostFile[];
  /** Kubeconfigs `host` receives for `roles` (components on control-plane hosts use 127.0.0.1). */
  kubeconfigsForHost(host: string, roles: readonly HostRole[]): Promise<PkiHostFile[]>;
  /** admin.conf for the user, pointing at the cluster's API endpoint. */
  adminKubeconfig(): Promise<string>;
}

const pkiHost = (h: ClusterHost) => ({ name: h.name, ip: h.ip, accessIp: h.accessIp, address: h.address });

/** The PKI description of a cluster, from its topology (pure). */
export function pkiInputFromTopology(topology: Topology, source = 'inventory'): PkiInput {
  const v = topology.vars;
  const lb = v.loadbalancer_apiserver;
  return parsePkiInput(
    {
      clusterName: v.cluster_name,
      dnsDomain: v.dns_domain,
      serviceCidr: v.kube_service_addresses,
      apiserverPort: v.kube_apiserver_port,
      controlPlane: topology.controlPlane.map(pkiHost),
      etcd: topology.etcd.map((m) => ({ ...pkiHost(m.host), memberName: m.name })),
      nodes: topology.nodes.map((n) => pkiHost(n.host)),
      ...(lb
        ? {
            loadBalancer: {
              address: lb.address,
              port: lb.port ?? v.kube_apiserver_port,
              ...(v.apiserver_loadbalancer_domain_name ? { domainName: v.apiserver_loadbalancer_domain_name } : {}),
            },
          }
        : {}),
      supplementaryAddresses: v.supplementary_addresses_in_ssl_keys,
      apiserverEndpoint: topology.apiserverEndpoint,
      ...(topology.apiProxy ? { nodeLocalApiPort: topology.apiProxy.port } : {}),
      keyAlgorithm: v.pki_key_algorithm,
      remoteDirs: { cert: v.kube_cert_dir, etcdCert: v.etcd_cert_dir, config: v.kube_config_dir },
    },
    source,
  );
}

/** The PKI description of an inventory's cluster. */
export function clusterPkiInput(inventory: Inventory): PkiInput {
  return pkiInputFromTopology(buildTopology(inventory), inventory.source);
}

/** Where a host's PKI files go, by spec and part, from the plan alone (nothing is issued or read). */
export interface PkiPaths {
  /** `file('etcd/ca', 'cert')`, `file('etcd/server-node1', 'key')`, `file('admin', 'kubeconfig')`. */
  file(spec: string, part: FilePart | 'kubeconfig'): string;
}

const plans = new WeakMap<Topology, CertSpec[]>();

/** The cluster's certificate plan (pure; computed once per topology): where every file goes. */
export function pkiPlanOf(topology: Topology): CertSpec[] {
  let plan = plans.get(topology);
  if (!plan) {
    plan = planCertificates(pkiInputFromTopology(topology));
    plans.set(topology, plan);
  }
  return plan;
}

export function pkiPaths(plan: readonly CertSpec[], host: string, roles: readonly HostRole[]): PkiPaths {
  const byKey = new Map<string, string>();
  for (const f of filesForHost(plan, host, roles)) byKey.set(`${f.spec}:${f.part}`, f.path);
  for (const s of plan) {
    for (const r of s.kubeconfig?.recipients ?? []) {
      if (roles.includes(r.role) && (r.host === undefined || r.host === host)) byKey.set(`${s.name}:kubeconfig`, r.remotePath);
    }
  }
  return {
    file(spec, part) {
      const p = byKey.get(`${spec}:${part}`);
      if (p === undefined) throw new Error(`host ${host} (${roles.join(', ')}) receives no ${part} of ${spec}`);
      return p;
    },
  };
}

/** `<inventory>/pki`. */
export function clusterPkiDir(inventoryDir: string): string {
  return path.join(inventoryDir, PKI_DIR_NAME);
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

function warningsOf(report: PkiReport): string[] {
  return [
    ...report.warnings,
    ...report.reissued.map((r) => `certificate ${r.name} reissued: ${r.reason}`),
  ];
}

/** Where the last full PKI check that changed nothing is remembered (src/pki/verified.ts). */
export const PKI_VERDICT_FILE = path.join('state', 'pki-verified.json');

/** Issues or reuses the PKI (in `dryRun`, on a temporary copy) and loads it for the run. */
export async function loadClusterPki(inventory: Inventory, options: { dryRun: boolean; now?: Date }): Promise<ClusterPki> {
  const input = clusterPkiInput(inventory);
  const dir = clusterPkiDir(inventory.dir);
  const plan = planCertificates(input);
  const ensureOptions = options.now ? { now: options.now } : {};
  let report: PkiReport;
  let files: Map<string, Buffer>;
  if (options.dryRun) {
    const scratch = await mkdtemp(path.join(tmpdir(), 'kprov-plan-pki-'));
    try {
      const copy = path.join(scratch, PKI_DIR_NAME);
      if (await exists(dir)) await cp(dir, copy, { recursive: true, preserveTimestamps: true });
      report = { ...(await ensurePki(copy, input, ensureOptions)), dir };
      files = (await readPkiState(copy, plan)).files;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  } else {
    // A full check that changed nothing is remembered; while nothing it judged has changed, the
    // next run reuses its verdict instead of parsing and verifying every file again.
    const now = options.now ?? new Date();
    const verdictFile = path.join(inventory.dir, PKI_VERDICT_FILE);
    const before = await readPkiState(dir, plan);
    const remembered = await rememberedVerdict(verdictFile, dir, plan, before, now);
    if (remembered) {
      report = remembered;
      files = before.files;
    } else {
      report = await ensurePki(dir, input, { now });
      // Read again only what the check changed; usually it changed nothing.
      const after = report.written.length + report.modesFixed.length === 0 ? before : await readPkiState(dir, plan);
      files = after.files;
      await mkdir(path.dirname(verdictFile), { recursive: true }).catch(() => undefined);
      await rememberVerdict(verdictFile, plan, after, report, report.firstExpiry, now);
    }
  }
  const read: PkiReader = async (rel) => files.get(rel);
  const content = (rel: string): Buffer => {
    const data = files.get(rel);
    // ensurePki just wrote every planned file: a gap here is a bug, not bad input.
    if (data === undefined) throw new Error(`PKI file ${rel} is missing after issuing`);
    return data;
  };
  return {
    dir,
    input,
    plan,
    report,
    warnings: warningsOf(report),
    filesForHost(host, roles) {
      return filesForHost(plan, host, roles).map((f) => ({
        path: f.path,
        mode: f.mode,
        content: content(f.sourceFile),
        secret: f.part === 'key',
        spec: f.spec,
        part: f.part,
        readers: f.readers,
      }));
    },
    async kubeconfigsForHost(host, roles) {
      const rendered: HostKubeconfig[] = await kubeconfigsForHost(dir, input, host, roles, { read });
      return rendered.map((k) => ({
        path: k.path,
        mode: k.mode,
        content: Buffer.from(k.content, 'utf8'),
        secret: true,
        spec: k.spec,
        part: 'kubeconfig' as const,
        readers: k.readers,
      }));
    },
    async adminKubeconfig() {
      const set = await kubeconfigSet(dir, input, { read });
      return set.find((k) => k.spec === 'admin')!.content;
    },
  };
}

const reported = new WeakSet<ClusterPki>();

/** Passes the PKI's warnings to `warn` once per run (the first role to call it reports them). */
export function reportPkiWarnings(pki: ClusterPki, warn: (message: string) => void): void {
  if (reported.has(pki)) return;
  reported.add(pki);
  for (const w of pki.warnings) warn(w);
}

/** Directory modes for the PKI directories on hosts (the etcd one is private, as Kubespray's). */
function directoryMode(pki: ClusterPki, dir: string): number {
  return dir === pki.input.remoteDirs.etcdCert ? 0o700 : 0o755;
}

export interface PkiFileTaskOptions {
  /** Handlers to notify when a file changes: the services that read it (or read them all). */
  notify?: readonly string[] | ((file: PkiHostFile) => readonly string[]);
  tags?: readonly string[];
  /** Also push the kubeconfigs of these roles (default true). */
  kubeconfigs?: boolean;
}

/**
 * A changed file notifies its service's handler; so does a file that an earlier play of this run
 * already changed on the host (the etcd CA certificate is pushed by both the etcd and the
 * control-plane role): the service that reads it must restart even though, by now, it is in place.
 */
function alsoWhenChangedEarlier(task: Task, remotePath: string): Task {
  return {
    ...task,
    async check(host, ctx) {
      const changes = await task.check(host, ctx);
      if (changes.length > 0 || !task.notify?.length || !ctx.state.changedPaths.includes(remotePath)) return changes;
      return [{ kind: 'custom', summary: `${remotePath} changed earlier in this run` }];
    },
    async apply(host, changes, ctx) {
      const own = changes.filter((c) => c.kind !== 'custom');
      if (own.length > 0) await task.apply(host, own, ctx);
    },
  };
}

/**
 * Engine tasks that put `roles`' certificates, keys and kubeconfigs on the task's host: their
 * directories, then each file (mode from the plan, owner root, secrets never diffed).
 */
export async function pkiFileTasks(ctx: ClusterTaskContext, roles: readonly HostRole[], options: PkiFileTaskOptions = {}): Promise<Task[]> {
  const pki = await ctx.run.pki();
  reportPkiWarnings(pki, (m) => ctx.warn(m));
  const host = ctx.host.name;
  const files = [
    ...pki.filesForHost(host, roles),
    ...(options.kubeconfigs === false ? [] : await pki.kubeconfigsForHost(host, roles)),
  ];
  const tags = options.tags ? { tags: options.tags } : {};
  const notifyFor = (f: PkiHostFile) => {
    const names = typeof options.notify === 'function' ? options.notify(f) : options.notify;
    return names && names.length > 0 ? { notify: names } : {};
  };
  const dirs = [...new Set(files.map((f) => path.posix.dirname(f.path)))].sort();
  return [
    ...dirs.map((d) => directory({ path: d, mode: directoryMode(pki, d), owner: 'root', group: 'root', ...tags })),
    ...files.map((f) =>
      alsoWhenChangedEarlier(
        file({
          name: `${f.part === 'kubeconfig' ? 'kubeconfig' : 'pki'} ${f.path}`,
          path: f.path,
          content: f.content,
          mode: f.mode,
          owner: 'root',
          group: 'root',
          secret: f.secret,
          ...notifyFor(f),
          ...tags,
        }),
        f.path,
      ),
    ),
  ];
}
