/**
 * The node-local API proxy (Kubespray's nginx-proxy or haproxy static pod) on every node that is
 * not a control-plane host, when the topology has one: it listens on 127.0.0.1 and forwards TCP to
 * every control-plane host's API server, and the kubelet's and kube-proxy's kubeconfigs on the node
 * point at it (src/pki/kubeconfig.ts), so the node keeps its API while any one API server is down.
 * The kubelet runs it from its static pod directory before it can reach the API.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { urlHost, type ApiProxy, type ClusterHost } from '../../cluster/topology.js';
import type { ClusterRenderContext, ClusterTask } from '../../cluster/run.js';
import type { HostVars } from '../../inventory/schema.js';
import { absent, directory, file } from '../../engine/tasks/index.js';
import { healthyTask } from './health.js';
import { prepullTask } from '../../cluster/image-prepull.js';

export const API_PROXY_TAGS = ['nginx', 'haproxy'] as const;

/**
 * How long nginx passes over an API server that refused a connection. A rolling restart of the
 * API servers waits this long after each host is healthy again, or nginx could find every API
 * server marked failed at once (haproxy retries another server on a refused connection).
 */
export const NGINX_FAIL_TIMEOUT_S = 10;

/**
 * How long a replaced proxy pod keeps listening (its preStop hook) while the new one starts: the
 * kubelet starts the new pod and stops the old one at the same time, and starting takes a few
 * seconds on a busy node (more when the image must be pulled again).
 */
export const PROXY_PRE_STOP_SLEEP_S = 15;

/** The wait after an API server restart that keeps the node-local proxies working (see NGINX_FAIL_TIMEOUT_S). */
export function apiProxySettleMs(proxy: ApiProxy | undefined): number {
  return proxy?.type === 'nginx' ? NGINX_FAIL_TIMEOUT_S * 1000 : 0;
}

interface ProxyKind {
  /** The static pod's and its manifest's name. */
  name: string;
  appLabel: string;
  configDir: string;
  configFile: string;
  /** Where the image reads its configuration (the upstream images' paths). */
  mountPath: string;
  template: string;
  image: string;
  resources: { cpu_limit: string; memory_limit: string; cpu_requests: string; memory_requests: string };
}

function kindOf(type: ApiProxy['type'], v: HostVars): ProxyKind {
  if (type === 'nginx') {
    return {
      name: 'nginx-proxy',
      appLabel: 'kube-nginx',
      configDir: v.nginx_config_dir,
      configFile: 'nginx.conf',
      mountPath: '/etc/nginx',
      template: 'node/nginx.conf.j2',
      image: `${v.nginx_image_repo}:${v.nginx_image_tag}`,
      resources: { cpu_limit: v.nginx_cpu_limit, memory_limit: v.nginx_memory_limit, cpu_requests: v.nginx_cpu_requests, memory_requests: v.nginx_memory_requests },
    };
  }
  return {
    name: 'haproxy',
    appLabel: 'kube-haproxy',
    configDir: v.haproxy_config_dir,
    configFile: 'haproxy.cfg',
    mountPath: '/usr/local/etc/haproxy',
    template: 'node/haproxy.cfg.j2',
    image: `${v.haproxy_image_repo}:${v.haproxy_image_tag}`,
    resources: { cpu_limit: v.haproxy_cpu_limit, memory_limit: v.haproxy_memory_limit, cpu_requests: v.haproxy_cpu_requests, memory_requests: v.haproxy_memory_requests },
  };
}

const manifestOf = (staticPodPath: string, name: string) => path.posix.join(staticPodPath, `${name}.yml`);

export interface RenderedApiProxy {
  proxy: ApiProxy;
  configDir: string;
  configPath: string;
  config: string;
  manifestPath: string;
  manifest: string;
}

/** The proxy's configuration and static pod manifest for `host`; undefined where none runs. */
export function renderApiProxy(ctx: ClusterRenderContext, host: ClusterHost, staticPodPath: string): RenderedApiProxy | undefined {
  const { apiProxy: proxy, controlPlane } = ctx.run.topology;
  if (!proxy || host.isControlPlane || !host.isNode) return undefined;
  const v = host.vars;
  const kind = kindOf(proxy.type, v);
  const backends = controlPlane.map((cp) => ({ name: cp.name, address: `${urlHost(cp.accessIp)}:${v.kube_apiserver_port}` }));
  const config = ctx.render(kind.template, { servers: backends.map((b) => b.address), backends, port: proxy.port, health_port: proxy.healthPort, fail_timeout_s: NGINX_FAIL_TIMEOUT_S });
  const manifest = ctx.render('node/api-proxy.yml.j2', {
    name: kind.name,
    app_label: kind.appLabel,
    config_sha256: createHash('sha256').update(config).digest('hex'),
    image: kind.image,
    pull_policy: v.k8s_image_pull_policy,
    ...kind.resources,
    health_port: proxy.healthPort,
    pre_stop_sleep_s: PROXY_PRE_STOP_SLEEP_S,
    mount_path: kind.mountPath,
    volume_name: `etc-${proxy.type}`,
    config_dir: kind.configDir,
  });
  return {
    proxy,
    configDir: kind.configDir,
    configPath: path.posix.join(kind.configDir, kind.configFile),
    config,
    manifestPath: manifestOf(staticPodPath, kind.name),
    manifest,
  };
}

/**
 * Its files, before the kubelet starts; without a proxy, the manifests an earlier run wrote are
 * removed (the kubelet then stops the pod). Configuration files are left: kprov cannot tell its
 * own /etc/nginx/nginx.conf from one the host had, and nothing reads it once the pod is gone.
 */
export function apiProxyTasks(ctx: ClusterRenderContext, host: ClusterHost, staticPodPath: string): ClusterTask[] {
  const rendered = renderApiProxy(ctx, host, staticPodPath);
  const others = (['nginx', 'haproxy'] as const)
    .filter((t) => t !== rendered?.proxy.type)
    .map((t) => manifestOf(staticPodPath, kindOf(t, host.vars).name));
  const removeOthers = absent({ name: rendered ? 'no other node-local API proxy' : 'no node-local API proxy', paths: others, tags: API_PROXY_TAGS });
  if (!rendered) return [removeOthers];
  const tags = [rendered.proxy.type];
  const kind = kindOf(rendered.proxy.type, host.vars);
  // The new proxy's image before its manifest replaces the old proxy (a worker's way to the API).
  const pull = prepullTask({
    component: kind.name,
    image: kind.image,
    command: rendered.proxy.type === 'nginx' ? ['nginx', '-v'] : ['haproxy', '-v'],
    manifestDir: staticPodPath,
    ctr: `${host.vars.bin_dir}/ctr`,
    runningIf: (['nginx', 'haproxy'] as const).map((t) => manifestOf(staticPodPath, kindOf(t, host.vars).name)),
    tags,
  });
  return [
    pull,
    removeOthers,
    directory({ path: rendered.configDir, mode: 0o700, owner: 'root', group: 'root', tags }),
    file({ path: rendered.configPath, content: rendered.config, mode: 0o644, owner: 'root', group: 'root', tags }),
    file({ path: rendered.manifestPath, content: rendered.manifest, mode: 0o644, owner: 'root', group: 'root', tags }),
  ];
}

/** After the kubelet is up: the proxy answers its health check (the kubelet may first pull its image). */
export function apiProxyHealthTasks(ctx: ClusterRenderContext, host: ClusterHost, staticPodPath: string): ClusterTask[] {
  const rendered = renderApiProxy(ctx, host, staticPodPath);
  if (!rendered) return [];
  const name = `node-local API proxy healthy (${rendered.proxy.type}, 127.0.0.1:${rendered.proxy.port})`;
  return [{ ...healthyTask(name, { unit: 'kubelet.service', port: rendered.proxy.healthPort, path: '/healthz', timeoutMs: 120_000 }), tags: [rendered.proxy.type] }];
}
