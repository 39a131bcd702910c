/**
 * kubelet v1.13 stand-in: checks flags, --config and every file; refuses swap (failSwapOn), a dead
 * container runtime, and credentials that are not this node's; registers the Node and keeps it
 * Ready with heartbeats only while the runtime answers and the CNI network is configured.
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ApiClient, ApiError } from '../common/client.js';
import { configError, fatalError, messageOf } from '../common/errors.js';
import { loadKubeconfig } from '../common/kubeconfig.js';
import { runComponent, type Component } from '../common/run.js';
import { closeServer, joinHostPort, listen } from '../common/serve.js';
import { networkState } from './cni.js';
import { serveContainerLogs, type LogLookup } from './container-logs.js';
import { runtimeVersion, type RuntimeVersion } from './cri.js';
import { ConditionClock, nodeStatus, registrationObject, type Readiness } from './node.js';
import { PodManager } from './pod-manager.js';
import { loadKubeletSettings, type KubeletSettings } from './settings.js';

// A real v1.13 kubelet gives up at once when the runtime does not answer (systemd restarts it); a
// short grace covers units started in the same second.
const RUNTIME_START_WAIT_MS = 3_000;
const RUNTIME_TIMEOUT_MS = 2_000;
const API_WAIT_MS = 60_000;

function checkSwap(settings: KubeletSettings): void {
  if (!settings.failSwapOn) return;
  let text = '';
  try {
    text = readFileSync('/proc/swaps', 'utf8');
  } catch {
    return;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length > 1) {
    throw fatalError(`failed to run Kubelet: Running with swap on is not supported, please disable swap! or set --fail-swap-on flag to false. /proc/swaps contained: [${lines.join(' ')}]`);
  }
}

async function waitForRuntime(settings: KubeletSettings, onRetry: (why: string) => void): Promise<RuntimeVersion> {
  const deadline = Date.now() + RUNTIME_START_WAIT_MS;
  for (;;) {
    try {
      return await runtimeVersion(settings.runtime, RUNTIME_TIMEOUT_MS);
    } catch (err) {
      if (Date.now() >= deadline) throw fatalError(`failed to run Kubelet: failed to create kubelet: ${messageOf(err)}`);
      onRetry(messageOf(err));
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function runtimeLabel(v: RuntimeVersion): string {
  return `${v.runtimeName}://${v.runtimeVersion}`;
}

/** Checks the kubeconfig's client certificate names this node, as the Node authorizer requires. */
function checkIdentity(settings: KubeletSettings, client: ApiClient): void {
  const id = client.config.certIdentity;
  if (!id) return;
  const wantUser = `system:node:${settings.nodeName}`;
  if (id.user !== wantUser || !id.groups.includes('system:nodes')) {
    throw configError(
      `${client.config.origin}: the client certificate is for user "${id.user}" in groups [${id.groups.join(' ')}], but node "${settings.nodeName}" must authenticate as "${wantUser}" in group "system:nodes"`,
    );
  }
}

const kubelet: Component = {
  name: 'kubelet',
  source: 'kubelet.go',
  async start(flags, { log }) {
    const settings = loadKubeletSettings(flags);
    if (settings.resolvConf !== '' && !existsSync(settings.resolvConf)) log.warning(`Resolv conf file ${settings.resolvConf} not found: pods will not get the node's DNS settings`);
    if (!settings.kubeconfig) log.info('No API client: no api servers specified (standalone mode)');
    let client: ApiClient | undefined;
    if (settings.kubeconfig) {
      client = new ApiClient(loadKubeconfig('--kubeconfig', settings.kubeconfig, settings.master));
      checkIdentity(settings, client);
    }
    checkSwap(settings);
    const version = await waitForRuntime(settings, (why) => log.warning(`container runtime ${settings.runtime.display} not answering yet: ${why}`));
    log.info(`Container runtime ${runtimeLabel(version)} initialized, version: ${version.runtimeVersion}, apiVersion: ${version.runtimeApiVersion}`);

    const servers: Array<http.Server | https.Server> = [];
    let lookupLogs: LogLookup | undefined;
    if (settings.healthzPort > 0) {
      const healthz = http.createServer((req, res) => {
        const ok = req.url === '/healthz' || req.url?.startsWith('/healthz?');
        res.writeHead(ok ? 200 : 404, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(ok ? 'ok' : '404 page not found\n');
      });
      await listen(healthz, settings.healthzBindAddress, settings.healthzPort);
      servers.push(healthz);
    }
    if (settings.serving) {
      // The kubelet API port: here only /healthz, behind the configured client authentication.
      const api = https.createServer(
        { cert: settings.serving.certPem, key: settings.serving.keyPem, ...(settings.clientCA ? { ca: settings.clientCA, requestCert: true } : {}), rejectUnauthorized: false },
        (req, res) => {
          const socket = req.socket as TLSSocket;
          const authenticated = settings.clientCA !== undefined && socket.authorized;
          if (!authenticated && !settings.anonymousAuth) {
            res.writeHead(401, { 'Content-Type': 'text/plain' });
            res.end('Unauthorized');
            return;
          }
          const notFound = () => {
            const ok = req.url === '/healthz';
            res.writeHead(ok ? 200 : 404, { 'Content-Type': 'text/plain' });
            res.end(ok ? 'ok' : '404 page not found\n');
          };
          if (!lookupLogs || !req.url?.startsWith('/containerLogs/')) return notFound();
          serveContainerLogs(req, res, lookupLogs)
            .then((served) => served || notFound())
            .catch((err: unknown) => {
              if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
              res.end(messageOf(err));
            });
        },
      );
      await listen(api, settings.address, settings.port);
      servers.push(api);
      log.info(`Starting to listen on ${joinHostPort(settings.address, settings.port)}`);
    }

    // Pods bound to this node and static pods run through CRI (not through the Docker stand-in path).
    // Started before the API is reached, as v1.13's kubelet does: a static pod may be what leads
    // to the API (the node-local API proxy, or the control plane itself in static-pod mode).
    let pods: PodManager | undefined;
    if (settings.runtime.kind === 'remote') {
      pods = new PodManager(settings, client, log, version.runtimeName);
      lookupLogs = pods.lookupLogs;
      pods.start();
    }

    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    if (client && settings.registerNode) {
      await client.verify(API_WAIT_MS, (why) => log.warning(`Unable to reach the API server yet: ${why}`));
      log.info(`Attempting to register node ${settings.nodeName}`);
      try {
        await client.call('POST', '/api/v1/nodes', registrationObject(settings));
        log.info(`Successfully registered node ${settings.nodeName}`);
      } catch (err) {
        if (err instanceof ApiError && err.reason === 'AlreadyExists') {
          log.info(`Node ${settings.nodeName} was previously registered`);
        } else if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          throw configError(`Unable to register node "${settings.nodeName}" with API server: ${err.message}`);
        } else {
          throw fatalError(`Unable to register node "${settings.nodeName}" with API server: ${messageOf(err)}`);
        }
      }
      const clock = new ConditionClock();
      let lastReady: boolean | undefined;
      const readiness = async (): Promise<Readiness> => {
        try {
          const v = await runtimeVersion(settings.runtime, RUNTIME_TIMEOUT_MS);
          const net = networkState(settings.cniConfDir, settings.cniBinDirs);
          return net.ready ? { ready: true, message: '', runtimeVersion: runtimeLabel(v) } : { ready: false, message: net.message, runtimeVersion: runtimeLabel(v) };
        } catch (err) {
          return { ready: false, message: `container runtime is down: ${messageOf(err)}`, runtimeVersion: runtimeLabel(version) };
        }
      };
      const heartbeat = async () => {
        const r = await readiness();
        if (r.ready !== lastReady) {
          log.info(r.ready ? `Node ${settings.nodeName} status is now: NodeReady` : `Node ${settings.nodeName} status is now: NodeNotReady (${r.message})`);
          lastReady = r.ready;
        }
        try {
          await client!.call('PATCH', `/api/v1/nodes/${settings.nodeName}/status`, { status: nodeStatus(settings, r, clock) }, 'application/strategic-merge-patch+json');
        } catch (err) {
          log.error(`Error updating node status, will retry: ${messageOf(err)}`);
        }
      };
      const loop = () => {
        void heartbeat().finally(() => {
          if (!stopped) timer = setTimeout(loop, settings.nodeStatusUpdateMs);
        });
      };
      loop();
    }
    log.info('Started kubelet');
    return {
      async stop() {
        stopped = true;
        if (timer) clearTimeout(timer);
        await pods?.stop();
        await Promise.all(servers.map(closeServer));
        client?.close();
      },
    };
  },
};

runComponent(kubelet);
