/**
 * Where PKI files live: locally under `<inventory>/pki/`, and on cluster hosts in the directories
 * the inventory names (Kubespray's variables and defaults), with kubeadm's file names inside them.
 */

/** Remote directories, from the inventory (kube_cert_dir, etcd_cert_dir, kube_config_dir). */
export interface RemoteDirs {
  /** `kube_cert_dir`: the Kubernetes CA, apiserver, front-proxy, service-account and kube-proxy files. */
  cert: string;
  /** `etcd_cert_dir`: the etcd CA certificate, member server/peer pairs, health-check client. */
  etcdCert: string;
  /** `kube_config_dir`: admin.conf, controller-manager.conf, scheduler.conf, kubelet.conf, kube-proxy.conf. */
  config: string;
  /** The kubelet's own cert dir (its default --cert-dir): kubelet.crt (serving) and kubelet-client.crt. */
  kubeletCert: string;
}

/** Kubespray's defaults. */
export const DEFAULT_REMOTE_DIRS: Readonly<RemoteDirs> = {
  cert: '/etc/kubernetes/ssl',
  etcdCert: '/etc/ssl/etcd/ssl',
  config: '/etc/kubernetes',
  kubeletCert: '/var/lib/kubelet/pki',
};

/** The local PKI directory of an inventory. */
export const PKI_DIR_NAME = 'pki';

export const MODE = {
  dir: 0o700,
  privateKey: 0o600,
  certificate: 0o644,
  publicKey: 0o644,
  /** Kubeconfigs embed a private key. */
  kubeconfig: 0o600,
} as const;
