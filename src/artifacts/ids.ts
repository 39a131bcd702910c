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

type Underscored<S extends string> = S extends `${infer A}-${infer B}` ? `${A}_${Underscored<B>}` : S;

/** `kube-apiserver` → `kube_apiserver`: the prefix of `<name>_download_url` and `<name>_checksum`. */
export type ArtifactVarName = Underscored<ArtifactId>;

export function artifactVarName(id: ArtifactId): ArtifactVarName {
  return id.replace(/-/g, '_') as ArtifactVarName;
}

export const ARTIFACT_VAR_NAMES: readonly ArtifactVarName[] = ARTIFACT_IDS.map(artifactVarName);

export const downloadUrlVar = (id: ArtifactId): string => `${artifactVarName(id)}_download_url`;
export const checksumVar = (id: ArtifactId): string => `${artifactVarName(id)}_checksum`;
