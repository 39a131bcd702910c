/**
 * kube-apiserver v1.13 stand-in: checks its flags and files, connects to etcd with mTLS, stores
 * objects under --etcd-prefix, and serves the API subset kubelets, controllers and kubectl use.
 */
import http from 'node:http';
import https from 'node:https';
import { fatalError } from '../common/errors.js';
import { runComponent, type Component } from '../common/run.js';
import { closeServer, joinHostPort, listen } from '../common/serve.js';
import { ensureBootstrapObjects } from './bootstrap.js';
import { EtcdClient } from './etcd.js';
import { createHandler, type ApiContext } from './handler.js';
import { startMasterLeases } from './masterleases.js';
import { loadApiserverOptions } from './options.js';
import { Registry } from './registry.js';
import { findResource } from './resources.js';
import { secretStrategy } from './secrets.js';
import { serviceStrategy } from './services.js';
import { workloadStrategy } from './workloads.js';

const STORAGE_WAIT_MS = 30_000;

/** TLS and certificate failures do not heal by waiting; refused connections might. */
function isPermanentStorageError(message: string): boolean {
  return /x509|tls:|certificate|alert|SSL|ssl|self.signed|unable to (get|verify)|ERR_TLS|Hostname\/IP does not match/.test(message);
}

const apiserver: Component = {
  name: 'kube-apiserver',
  source: 'server.go',
  async start(flags, { log }) {
    const opts = loadApiserverOptions(flags, log);
    // grpc-js names an etcd member's IP address as the TLS server name, for which Node prints a
    // DEP0123 warning on stderr; the Go binary prints nothing of the kind.
    process.noDeprecation = true;
    const etcd = new EtcdClient(opts.etcdServers, opts.etcdTls);
    const storageConfig = `config (&{ ${opts.etcdPrefix} [${opts.etcdServers.map((u) => u.href.replace(/\/$/, '')).join(' ')}] ${flags.string('etcd-keyfile')} ${flags.string('etcd-certfile')} ${flags.string('etcd-cafile')} })`;
    const deadline = Date.now() + STORAGE_WAIT_MS;
    for (;;) {
      const problem = await etcd.ping(3000);
      if (problem === undefined) break;
      if (isPermanentStorageError(problem) || Date.now() >= deadline) {
        etcd.close();
        throw fatalError(`Unable to create storage backend: ${storageConfig}, err (${problem})`);
      }
      log.warning(`Failed to connect to etcd, retrying: ${problem}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const registry = new Registry(etcd, opts.etcdPrefix);
    registry.setStrategy(findResource('services')!, serviceStrategy(etcd, registry, opts.etcdPrefix, { clusterIPRange: opts.serviceClusterIPRange, nodePorts: opts.serviceNodePortRange }));
    registry.setStrategy(findResource('secrets')!, secretStrategy);
    registry.setStrategy(findResource('deployments')!, workloadStrategy('Deployment'));
    registry.setStrategy(findResource('replicasets')!, workloadStrategy('ReplicaSet'));
    await ensureBootstrapObjects(registry);
    registry.startWatchCaches(log);

    const leases = startMasterLeases({
      etcd,
      registry,
      prefix: opts.etcdPrefix,
      advertiseAddress: opts.advertiseAddress,
      securePort: opts.securePort,
      serviceClusterIPRange: opts.serviceClusterIPRange,
      log,
    });
    const ctx: ApiContext = {
      registry,
      etcd,
      authn: opts.authn,
      authorizationModes: opts.authorizationModes,
      admission: opts.admission,
      advertiseAddress: opts.advertiseAddress,
      securePort: opts.securePort,
      kubeletClient: opts.kubeletClient,
      log,
    };
    const secure = https.createServer(
      {
        cert: opts.tls.certPem,
        key: opts.tls.keyPem,
        ...(opts.clientCA ? { ca: opts.clientCA, requestCert: true } : {}),
        // Unverified client certificates are answered with 401 by the handler, not a TLS abort.
        rejectUnauthorized: false,
      },
      createHandler(ctx, { insecure: false }),
    );
    // Clients keep their connection, as with v1.13's Go server (no idle timeout): Node's default
    // closes one idle for 5 s, so every kubelet heartbeat (10 s) and kube-proxy sync (30 s) would
    // open a new TLS connection and verify its client certificate again.
    secure.keepAliveTimeout = 0;
    await listen(secure, opts.bindAddress, opts.securePort);
    log.info(`Serving securely on ${joinHostPort(opts.bindAddress, opts.securePort)}`);
    let insecure: http.Server | undefined;
    if (opts.insecurePort !== 0) {
      insecure = http.createServer(createHandler(ctx, { insecure: true }));
      await listen(insecure, opts.insecureBindAddress, opts.insecurePort);
      log.info(`Serving insecurely on ${joinHostPort(opts.insecureBindAddress, opts.insecurePort)}`);
    }
    return {
      async stop() {
        leases.stop();
        registry.stopWatchCaches();
        await Promise.all([closeServer(secure), insecure ? closeServer(insecure) : Promise.resolve()]);
        etcd.close();
      },
    };
  },
};

runComponent(apiserver);
