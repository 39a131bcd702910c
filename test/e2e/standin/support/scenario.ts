/**
 * A stand-in cluster scenario inside its own network namespace: a test PKI (openssl), real etcd
 * with client-certificate auth, the bundled stand-ins run by this machine's node, real containerd
 * and real kubectl 1.20.2 from Debian's packages. Everything started is stopped by PID in destroy().
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleStandins, type StandinName } from '../../../../dev/release/bundle.js';
import { DEFAULT_CACHE_DIR, debPackage, realKubectl } from '../../../../dev/release/debs.js';
import { NetNs, waitFor, type Proc } from './netns.js';
import { TestPki, writeKubeconfig, type CertFiles } from './pki.js';

export const KUBE_VERSION = 'v1.13.5';
const probeScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'probe.js');

let bundles: Promise<Record<StandinName, string>> | undefined;

/** The five stand-ins bundled once per test process, exactly as the release ships them. */
export function standins(): Promise<Record<StandinName, string>> {
  if (!bundles) {
    const dir = path.join(tmpdir(), `kprov-standins-${process.pid}`);
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    bundles = bundleStandins({ outDir: dir, kubeVersion: KUBE_VERSION });
  }
  return bundles;
}

export async function etcdBinary(): Promise<string> {
  if (existsSync('/usr/bin/etcd')) return '/usr/bin/etcd';
  return path.join((await debPackage(DEFAULT_CACHE_DIR, 'etcd-server')).root, 'usr', 'bin', 'etcd');
}

export async function containerdBinary(): Promise<string> {
  return path.join((await debPackage(DEFAULT_CACHE_DIR, 'containerd')).root, 'usr', 'bin', 'containerd');
}

export type ProbeResult = { status: number; body: string; error?: undefined } | { error: string; status?: undefined; body?: undefined };

export interface Certs {
  ca: CertFiles;
  etcdCa: CertFiles;
  etcdServer: CertFiles;
  apiserverEtcdClient: CertFiles;
  apiserver: CertFiles;
  admin: CertFiles;
  controllerManager: CertFiles;
  scheduler: CertFiles;
  kubeProxy: CertFiles;
  saKey: string;
  saPub: string;
}

export class Scenario {
  readonly server = 'https://127.0.0.1:6443';
  private kubectlPath = '';
  /** How stand-ins are run: this machine's node, or a wrapper such as Debian's Node 18. */
  runner: string[] = [process.execPath];

  private constructor(
    readonly ns: NetNs,
    readonly dir: string,
    readonly pki: TestPki,
    readonly certs: Certs,
    readonly bins: Record<StandinName, string>,
  ) {}

  static async create(): Promise<Scenario> {
    const bins = await standins();
    const dir = await mkdtemp(path.join(tmpdir(), 'kprov-si-'));
    const ns = await NetNs.create();
    try {
      const pki = await TestPki.create(path.join(dir, 'pki'));
      const ca = await pki.ca('ca', 'kubernetes');
      const etcdCa = await pki.ca('etcd-ca', 'etcd-ca');
      const [etcdServer, apiserverEtcdClient, apiserver, admin, controllerManager, scheduler, kubeProxy] = await Promise.all([
        pki.issue(etcdCa, 'etcd-server', { cn: 'etcd', dns: ['localhost'], ip: ['127.0.0.1'], usage: 'both' }),
        pki.issue(etcdCa, 'apiserver-etcd-client', { cn: 'kube-apiserver-etcd-client', o: ['system:masters'], usage: 'client' }),
        pki.issue(ca, 'apiserver', { cn: 'kube-apiserver', dns: ['localhost', 'kubernetes', 'kubernetes.default'], ip: ['127.0.0.1', '10.96.0.1'], usage: 'server' }),
        pki.issue(ca, 'admin', { cn: 'kubernetes-admin', o: ['system:masters'], usage: 'client' }),
        pki.issue(ca, 'controller-manager', { cn: 'system:kube-controller-manager', usage: 'client' }),
        pki.issue(ca, 'scheduler', { cn: 'system:kube-scheduler', usage: 'client' }),
        pki.issue(ca, 'kube-proxy', { cn: 'system:kube-proxy', o: ['system:node-proxier'], usage: 'client' }),
      ]);
      const { execa } = await import('execa');
      const saKey = path.join(pki.dir, 'sa.key');
      const saPub = path.join(pki.dir, 'sa.pub');
      await execa('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', saKey]);
      await execa('openssl', ['pkey', '-in', saKey, '-pubout', '-out', saPub]);
      return new Scenario(ns, dir, pki, { ca, etcdCa, etcdServer, apiserverEtcdClient, apiserver, admin, controllerManager, scheduler, kubeProxy, saKey, saPub }, bins);
    } catch (err) {
      await ns.destroy();
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async destroy(): Promise<void> {
    await this.ns.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** One HTTP(S) request from inside the namespace. */
  async probe(spec: { url: string; method?: string; ca?: string; cert?: string; key?: string; body?: unknown; contentType?: string; accept?: string; bearer?: string; impersonate?: string; timeoutMs?: number }): Promise<ProbeResult> {
    const r = await this.ns.run(process.execPath, [probeScript, JSON.stringify(spec)], { timeoutMs: (spec.timeoutMs ?? 5000) + 5000 });
    if (r.code !== 0) return { error: `probe exited ${r.code}: ${r.stderr}` };
    return JSON.parse(r.stdout) as ProbeResult;
  }

  /** An API request as `who` (a client certificate), with the cluster CA. */
  api(who: CertFiles | undefined, method: string, urlPath: string, body?: unknown, contentType?: string): Promise<ProbeResult> {
    return this.probe({
      url: `${this.server}${urlPath}`,
      method,
      ca: this.certs.ca.cert,
      ...(who ? { cert: who.cert, key: who.key } : {}),
      ...(body === undefined ? {} : { body }),
      ...(contentType ? { contentType } : {}),
    });
  }

  /** Starts a bundled stand-in with this machine's node. */
  start(name: StandinName, args: readonly string[], label: string = name): Proc {
    const [cmd, ...pre] = this.runner;
    return this.ns.spawn(label, cmd!, [...pre, this.bins[name], ...args]);
  }

  /** Runs a stand-in to completion (for start-up failures), bounded. */
  run(name: StandinName, args: readonly string[], timeoutMs = 20_000) {
    const [cmd, ...pre] = this.runner;
    return this.ns.run(cmd!, [...pre, this.bins[name], ...args], { timeoutMs });
  }

  etcdArgs(dataDir: string): string[] {
    const c = this.certs;
    return [
      '--name', 'si', '--data-dir', dataDir,
      '--listen-client-urls', 'https://127.0.0.1:2379', '--advertise-client-urls', 'https://127.0.0.1:2379',
      '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
      '--initial-cluster', 'si=http://127.0.0.1:2380',
      '--cert-file', c.etcdServer.cert, '--key-file', c.etcdServer.key, '--client-cert-auth', '--trusted-ca-file', c.etcdCa.cert,
    ];
  }

  /** Starts real etcd (client-cert auth on 127.0.0.1:2379) and waits until /health answers. */
  async startEtcd(): Promise<Proc> {
    const proc = this.ns.spawn('etcd', await etcdBinary(), this.etcdArgs(path.join(this.dir, 'etcd')));
    const c = this.certs;
    await waitFor(
      'etcd /health',
      async () => {
        if (!proc.running) throw new Error(`etcd exited:\n${proc.output().slice(-2000)}`);
        const r = await this.probe({ url: 'https://127.0.0.1:2379/health', ca: c.etcdCa.cert, cert: c.apiserverEtcdClient.cert, key: c.apiserverEtcdClient.key });
        return r.status === 200 && r.body.includes('true') ? true : undefined;
      },
      15_000,
    );
    return proc;
  }

  apiserverArgs(extra: readonly string[] = []): string[] {
    const c = this.certs;
    return [
      '--advertise-address=127.0.0.1',
      '--allow-privileged=true',
      '--authorization-mode=Node,RBAC',
      `--client-ca-file=${c.ca.cert}`,
      '--enable-admission-plugins=NodeRestriction',
      '--etcd-servers=https://127.0.0.1:2379',
      `--etcd-cafile=${c.etcdCa.cert}`,
      `--etcd-certfile=${c.apiserverEtcdClient.cert}`,
      `--etcd-keyfile=${c.apiserverEtcdClient.key}`,
      '--insecure-port=0',
      '--secure-port=6443',
      `--service-account-key-file=${c.saPub}`,
      '--service-cluster-ip-range=10.96.0.0/12',
      `--tls-cert-file=${c.apiserver.cert}`,
      `--tls-private-key-file=${c.apiserver.key}`,
      ...extra,
    ];
  }

  /** Starts the apiserver stand-in and waits until /healthz is ok. */
  async startApiserver(extra: readonly string[] = []): Promise<Proc> {
    const proc = this.start('kube-apiserver', this.apiserverArgs(extra));
    await waitFor(
      'kube-apiserver /healthz',
      async () => {
        if (!proc.running) throw new Error(`kube-apiserver exited ${String(proc.exitCode)}:\n${proc.output().slice(-2000)}`);
        const r = await this.probe({ url: `${this.server}/healthz`, ca: this.certs.ca.cert });
        return r.status === 200 ? true : undefined;
      },
      15_000,
    );
    return proc;
  }

  /** A kubeconfig file for `client` (a certificate) or no credentials. */
  async kubeconfig(name: string, client: CertFiles | undefined, opts: { ca?: string; embed?: boolean; server?: string } = {}): Promise<string> {
    await mkdir(path.join(this.dir, 'kubeconfigs'), { recursive: true });
    return writeKubeconfig(path.join(this.dir, 'kubeconfigs', `${name}.conf`), {
      server: opts.server ?? this.server,
      ca: opts.ca ?? this.certs.ca.cert,
      ...(client ? { client } : {}),
      ...(opts.embed ? { embed: true } : {}),
    });
  }

  async nodeCert(node: string): Promise<CertFiles> {
    return this.pki.issue(this.certs.ca, `kubelet-${node}`, { cn: `system:node:${node}`, o: ['system:nodes'], usage: 'client' });
  }

  /** Runs the real kubectl 1.20.2 inside the namespace with the admin kubeconfig. */
  async kubectl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    if (this.kubectlPath === '') this.kubectlPath = await realKubectl();
    const admin = await this.kubeconfig('admin', this.certs.admin);
    return this.ns.run(this.kubectlPath, ['--kubeconfig', admin, '--cache-dir', path.join(this.dir, 'kubectl-cache'), ...args], {
      env: { HOME: this.dir },
      timeoutMs: 30_000,
    });
  }

  /**
   * Starts real containerd on a socket in the scenario directory and waits for the socket.
   * `config` replaces the minimal config.toml; `env` is added to its environment (PATH for runc).
   */
  async startContainerd(opts: { config?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ proc: Proc; socket: string }> {
    const base = path.join(this.dir, 'containerd');
    await mkdir(base, { recursive: true });
    const config = path.join(base, 'config.toml');
    await writeFile(config, opts.config ?? 'version = 2\n');
    const socket = path.join(base, 'containerd.sock');
    const proc = this.ns.spawn('containerd', await containerdBinary(), ['--address', socket, '--root', path.join(base, 'root'), '--state', path.join(base, 'state'), '--config', config], { keepSys: true, ...(opts.env ? { env: opts.env } : {}) });
    await waitFor('containerd socket', async () => {
      if (!proc.running) throw new Error(`containerd exited:\n${proc.output().slice(-2000)}`);
      return existsSync(socket) && proc.output().includes('containerd successfully booted') ? true : undefined;
    }, 15_000);
    return { proc, socket };
  }

  /** The real CNI plugins from Debian's containernetworking-plugins package. */
  async cniBinDir(): Promise<string> {
    return path.join((await debPackage(DEFAULT_CACHE_DIR, 'containernetworking-plugins')).root, 'usr', 'lib', 'cni');
  }

  async writeFile(rel: string, content: string): Promise<string> {
    const file = path.join(this.dir, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
    return file;
  }
}
