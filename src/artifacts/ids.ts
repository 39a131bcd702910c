/** The artifacts kprov installs, by the name users see and the prefix of their group_vars. */

export const ARTIFACT_IDS = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'kube-proxy',
  'kubectl',
  'etcd',
  'containerd',
  'runc',
  'cni',
] as const;

export type ArtifactId = (typeof ARTIFACT_IDS)[number];

/** `kube-apiserver` → `kube_apiserver`: the prefix of `<name>_download_url` and `<name>_checksum`. */
export type ArtifactVarName =
  | 'kube_apiserver'
  | 'kube_controller_manager'
  | 'kube_scheduler'
  | 'kubelet'
  | 'kube_proxy'
  | 'kubectl'
  | 'etcd'
  | 'containerd'
  | 'runc'
  | 'cni';

export function artifactVarName(id: ArtifactId): ArtifactVarName {
  return id.replace(/-/g, '_') as ArtifactVarName;
}

export const ARTIFACT_VAR_NAMES: readonly ArtifactVarName[] = ARTIFACT_IDS.map(artifactVarName);

export const downloadUrlVar = (id: ArtifactId): string => `${artifactVarName(id)}_download_url`;
export const checksumVar = (id: ArtifactId): string => `${artifactVarName(id)}_checksum`;
