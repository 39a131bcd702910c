/**
 * The Kubernetes version a stand-in claims to be. The release bundler bakes it in with esbuild's
 * `define`; compiled by tsc alone (unit tests of the pure modules) it falls back to v1.13.0.
 */
declare const KPROV_STANDIN_KUBE_VERSION: string | undefined;

export const kubeVersion: string =
  typeof KPROV_STANDIN_KUBE_VERSION === 'string' ? KPROV_STANDIN_KUBE_VERSION : 'v1.13.0';

/** The patch number of a `v1.13.N` version (N), used to gate flags added in patch releases. */
export function patchOf(version: string): number {
  const m = /^v1\.13\.(\d+)$/.exec(version);
  if (!m) throw new Error(`stand-ins implement Kubernetes v1.13.N only, not ${version}`);
  return Number(m[1]);
}

/** What `/version` answers, shaped like k8s.io/apimachinery's version.Info. */
export function versionInfo(): Record<string, string> {
  return {
    major: '1',
    minor: '13',
    gitVersion: kubeVersion,
    gitCommit: 'standin',
    gitTreeState: 'clean',
    buildDate: '2019-03-25T15:19:22Z',
    goVersion: 'go1.11.5',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}
