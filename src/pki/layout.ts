/**
 * Where PKI files live on cluster hosts (kubeadm v1.13 layout, kubelet files in the kubelet's own
 * cert dir). Templates for units and manifests read these paths from here.
 */
export const REMOTE_PKI_DIR = '/etc/kubernetes/pki';
export const REMOTE_ETCD_PKI_DIR = '/etc/kubernetes/pki/etcd';
export const REMOTE_KUBELET_PKI_DIR = '/var/lib/kubelet/pki';
export const REMOTE_KUBECONFIG_DIR = '/etc/kubernetes';

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
