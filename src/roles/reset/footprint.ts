/**
 * Everything `kprov apply cluster` puts on a host, as reset removes it: the units it installs
 * (stopped in this order: workloads first, etcd and containerd last), the binaries, and the
 * files and directories of every role. Built from the same variables and constants the roles
 * write with, so a moved directory (kube_config_dir, etcd_data_dir …) is removed where it is.
 */
import path from 'node:path';
import { MANIFEST_DIR } from '../../cluster/artifact-binaries.js';
import { CNI_BIN_DIR } from '../../artifacts/catalogue.js';
import { DEFAULT_REMOTE_CACHE_DIR } from '../../artifacts/remote-fetch.js';
import { PENDING_DIR } from '../../engine/pending.js';
import type { HostVars } from '../../inventory/schema.js';
import { BRIDGE_SYSCTL_FILE, MODULES_LOAD_FILE } from '../cni/bridge-netfilter.js';
import { POD_ROUTES_UNIT } from '../cni/index.js';
import { ETCD_ENV_FILE } from '../etcd/config.js';
import { BACKUP_SCRIPT_NAME, BACKUP_SERVICE, BACKUP_TIMER } from '../etcd/scheduled-backup.js';
import { KUBE_PROXY_DIR, KUBELET_DIR } from '../node/settings.js';
import { CNI_CONF_DIR, CONTAINERD_CONFIG, CONTAINERD_SOCKET } from '../runtime/containerd.js';
import { IP_FORWARD_SYSCTL_FILE } from '../runtime/index.js';

/** Stopped and removed in this order: what runs pods, then the control plane, then their stores. */
export const RESET_UNITS = [BACKUP_TIMER, BACKUP_SERVICE, 'kubelet.service', 'kube-proxy.service', 'kube-scheduler.service', 'kube-controller-manager.service', 'kube-apiserver.service', 'etcd.service', POD_ROUTES_UNIT] as const;
export const CONTAINERD_SERVICE = 'containerd.service';

/** containerd's default root (kprov's config keeps it). */
const CONTAINERD_ROOT = '/var/lib/containerd';

/** The names the artifacts install in bin_dir (the catalogue's install rules). */
const BINARIES = [BACKUP_SCRIPT_NAME, 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'kubectl', 'etcd', 'etcdctl', 'containerd', 'containerd-shim', 'containerd-shim-runc-v1', 'containerd-shim-runc-v2', 'containerd-stress', 'ctr', 'runc'];

// containerd's state directory: where its socket is.
const CONTAINERD_STATE = path.posix.dirname(CONTAINERD_SOCKET);

/** Directories pods and containerd mount things below: those mounts go before the files do. */
export const MOUNT_ROOTS = [CONTAINERD_STATE, CONTAINERD_ROOT, KUBELET_DIR, '/run/netns'] as const;

/** Every path to remove, files and whole directories, in no particular order. */
export function footprint(vars: HostVars): string[] {
  const units = [...RESET_UNITS, CONTAINERD_SERVICE].map((u) => `/etc/systemd/system/${u}`);
  return [
    ...units,
    ...units.map((u) => `${u}.d`),
    ...BINARIES.map((b) => path.posix.join(vars.bin_dir, b)),
    path.posix.dirname(CNI_BIN_DIR),
    path.posix.dirname(CNI_CONF_DIR),
    path.posix.dirname(CONTAINERD_CONFIG),
    vars.kube_config_dir,
    vars.kube_cert_dir,
    vars.etcd_cert_dir,
    // kprov's default etcd_cert_dir is /etc/ssl/etcd/ssl: the etcd directory is kprov's too.
    ...(path.posix.basename(vars.etcd_cert_dir) === 'ssl' && path.posix.basename(path.posix.dirname(vars.etcd_cert_dir)) === 'etcd' ? [path.posix.dirname(vars.etcd_cert_dir)] : []),
    ETCD_ENV_FILE,
    vars.etcd_data_dir,
    vars.audit_policy_file,
    vars.audit_log_path,
    IP_FORWARD_SYSCTL_FILE,
    BRIDGE_SYSCTL_FILE,
    MODULES_LOAD_FILE,
    KUBELET_DIR,
    KUBE_PROXY_DIR,
    CONTAINERD_ROOT,
    CONTAINERD_STATE,
    // containerd's `opt` plugin creates it at start.
    '/opt/containerd',
    '/var/lib/cni',
    '/run/flannel',
    '/var/log/pods',
    '/var/log/containers',
    path.posix.dirname(PENDING_DIR),
    path.posix.dirname(MANIFEST_DIR),
    DEFAULT_REMOTE_CACHE_DIR,
    path.posix.dirname(DEFAULT_REMOTE_CACHE_DIR),
  ].filter((p, i, all) => all.indexOf(p) === i);
}

/** Files kprov writes into directories it shares with others: removed only when kprov wrote them. */
export function writtenFiles(vars: HostVars): string[] {
  return [path.posix.join(vars.nginx_config_dir, 'nginx.conf'), path.posix.join(vars.haproxy_config_dir, 'haproxy.cfg')];
}
