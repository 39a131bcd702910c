/**
 * containerd as kprov runs it: where its socket and config live, which config format its version
 * reads, and the values templates/runtime/containerd-config.toml.j2 and
 * templates/runtime/containerd.service.j2 are rendered with. Pure: no I/O.
 */
import { parseVersion, versionAtLeast } from '../../artifacts/versions.js';
import { CNI_BIN_DIR } from '../../artifacts/catalogue.js';
import { KprovError } from '../../errors.js';
import type { HostVars } from '../../inventory/schema.js';
import { CGROUP_DRIVER } from './cgroup-driver.js';

export const CONTAINERD_SOCKET = '/run/containerd/containerd.sock';
export const CONTAINERD_ENDPOINT = `unix://${CONTAINERD_SOCKET}`;
export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
export const CONTAINERD_UNIT_PATH = '/etc/systemd/system/containerd.service';
export const CNI_CONF_DIR = '/etc/cni/net.d';

export interface ContainerdPaths {
  containerd: string;
  ctr: string;
  runc: string;
}

/** Where the artifact catalogue installs containerd's and runc's files (bin_dir). */
export function containerdPaths(vars: Pick<HostVars, 'bin_dir'>): ContainerdPaths {
  return { containerd: `${vars.bin_dir}/containerd`, ctr: `${vars.bin_dir}/ctr`, runc: `${vars.bin_dir}/runc` };
}

/**
 * Config format by version: `version = 2` (plugin IDs such as "io.containerd.grpc.v1.cri", runc
 * options per runtime) from 1.5 on; the version 1 layout (`plugins.cri`, systemd_cgroup) for
 * 1.2–1.4. 1.2 is the first release whose CRI plugin serves the v1alpha2 API kubelet v1.13
 * speaks; 2.0 removed that API.
 */
export function containerdConfigVersion(containerdVersion: string): 1 | 2 {
  const v = parseVersion(containerdVersion);
  if (!v) throw new KprovError('config', `containerd_version ${containerdVersion} is not a release such as 1.6.20`);
  if (!versionAtLeast(containerdVersion, '1.2.0')) {
    throw new KprovError('config', `containerd_version ${containerdVersion} is too old: kubelet v1.13 needs containerd 1.2 or later (CRI v1alpha2)`, {
      hint: 'set containerd_version to 1.2.6 or later',
    });
  }
  if (v.major >= 2) {
    throw new KprovError('config', `containerd_version ${containerdVersion} cannot run kubelet v1.13: containerd 2 removed the CRI v1alpha2 API`, {
      hint: 'set containerd_version to a 1.x release (1.2.6 … 1.7.x)',
    });
  }
  return versionAtLeast(containerdVersion, '1.5.0') ? 2 : 1;
}

/** The pod sandbox image, `{pod_infra_image_repo}:{pod_infra_image_tag}` (kubeadm v1.13's k8s.gcr.io/pause:3.1 by default). */
export function sandboxImage(vars: Pick<HostVars, 'pod_infra_image_repo' | 'pod_infra_image_tag'>): string {
  return `${vars.pod_infra_image_repo}:${vars.pod_infra_image_tag}`;
}

export interface RegistryMirror {
  name: string;
  /** TOML array items, each a quoted string. */
  endpoints: string;
}

/** containerd_registries for the CRI `registry.mirrors` tables, sorted so the config is stable. */
export function registryMirrors(registries: HostVars['containerd_registries']): RegistryMirror[] {
  return Object.keys(registries)
    .sort()
    .map((name) => ({ name, endpoints: registries[name]!.map((e) => JSON.stringify(e)).join(', ') }));
}

/**
 * `restrict_oom_score_adj` came with containerd 1.3's CRI plugin: rendered from then on, and
 * refused when wanted on an older containerd (which would ignore it and fail to start pods).
 */
function restrictOomScoreAdj(vars: Pick<HostVars, 'containerd_version' | 'containerd_restrict_oom_score_adj'>): boolean | undefined {
  if (versionAtLeast(vars.containerd_version, '1.3.0')) return vars.containerd_restrict_oom_score_adj;
  if (vars.containerd_restrict_oom_score_adj) {
    throw new KprovError('config', `containerd_restrict_oom_score_adj needs containerd 1.3 or later; containerd_version is ${vars.containerd_version}`, {
      hint: 'set containerd_version to 1.3.0 or later, or containerd_restrict_oom_score_adj to false',
    });
  }
  return undefined;
}

export type ContainerdVars = Pick<
  HostVars,
  | 'bin_dir'
  | 'containerd_version'
  | 'containerd_registries'
  | 'pod_infra_image_repo'
  | 'pod_infra_image_tag'
  | 'containerd_restrict_oom_score_adj'
  | 'http_proxy'
  | 'https_proxy'
  | 'no_proxy'
>;

/** The proxy environment containerd pulls images through (it reads the upper-case names). */
function proxyEnvironment(vars: Pick<HostVars, 'http_proxy' | 'https_proxy' | 'no_proxy'>): [string, string][] {
  const env: [string, string | undefined][] = [
    ['HTTP_PROXY', vars.http_proxy],
    ['HTTPS_PROXY', vars.https_proxy],
    ['NO_PROXY', vars.no_proxy],
  ];
  return env.filter((e): e is [string, string] => e[1] !== undefined);
}


/** Variables for both containerd templates. */
export function containerdTemplateVars(vars: ContainerdVars): Record<string, unknown> {
  const paths = containerdPaths(vars);
  const restrict = restrictOomScoreAdj(vars);
  return {
    containerd_version: vars.containerd_version,
    config_version: containerdConfigVersion(vars.containerd_version),
    // sd_notify readiness came with 1.5's unit; older daemons are started as Type=simple.
    service_type: versionAtLeast(vars.containerd_version, '1.5.0') ? 'notify' : 'simple',
    containerd_path: paths.containerd,
    runc_path: paths.runc,
    config_path: CONTAINERD_CONFIG,
    socket: CONTAINERD_SOCKET,
    sandbox_image: sandboxImage(vars),
    registries: registryMirrors(vars.containerd_registries),
    // '' leaves the line out (containerd before 1.3).
    restrict_oom_score_adj: restrict === undefined ? '' : String(restrict),
    systemd_cgroup: CGROUP_DRIVER === 'systemd' ? 'true' : 'false',
    cni_bin_dir: CNI_BIN_DIR,
    cni_conf_dir: CNI_CONF_DIR,
    bin_dir: vars.bin_dir,
    proxy_env: proxyEnvironment(vars),
  };
}
