/**
 * The cluster PKI: plan, issue/reuse on disk, per-host selection, kubeconfigs, expiry and renewal.
 * Other modules import from here.
 */
export { parsePkiInput, pkiInputSchema } from './input.js';
export type { KeyAlgorithm, PkiEtcdHost, PkiHost, PkiInput, PkiInputDraft, RemoteDirsInput } from './input.js';
export { planCertificates, apiserverSans, etcdMemberSans, findSpec } from './cert-table.js';
export type { CertSpec, Delivery, ExtKeyUsageName, FilePart, HostRole, KubeconfigSpec, PkiConsumer, Recipient, SpecKind, SubjectAltNames } from './cert-table.js';
export { ensurePki, RENEW_BEFORE_DAYS } from './ensure.js';
export type { EnsureOptions, PkiReport } from './ensure.js';
export { renewCertificates } from './renew.js';
export { checkCertificates } from './check.js';
export type { CertStatus } from './check.js';
export { filesForHost, assertMayReceive } from './hosts.js';
export type { HostFile } from './hosts.js';
export { renderKubeconfig, kubeconfigSet, kubeconfigsForHost, dirReader } from './kubeconfig.js';
export type { ControlPlaneServer, HostKubeconfig, KubeconfigOptions, KubeconfigParams, PkiReader, RenderedKubeconfig } from './kubeconfig.js';
export { DEFAULT_REMOTE_DIRS, MODE, PKI_DIR_NAME, type RemoteDirs } from './layout.js';
