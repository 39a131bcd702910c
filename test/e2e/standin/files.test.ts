/**
 * Every kind of bad file a unit file or config can name, against the bundled stand-ins: missing,
 * a directory, not PEM, a key that is not the certificate's, a kubeconfig that is broken, a config
 * of the wrong kind or apiVersion, invalid config values, swap that is on.
 * These failures happen before any network use, so the stand-ins run directly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { StandinName } from '../../../dev/release/bundle.js';
import { TestPki, writeKubeconfig, type CertFiles } from './support/pki.js';
import { standins } from './support/scenario.js';

let dir: string;
let bins: Record<StandinName, string>;
let ca: CertFiles;
let serving: CertFiles;
let other: CertFiles;
let node1: CertFiles;
let nodeKubeconfig: string;

before(async () => {
  bins = await standins();
  dir = await mkdtemp(path.join(tmpdir(), 'kprov-si-files-'));
  const pki = await TestPki.create(path.join(dir, 'pki'));
  ca = await pki.ca('ca', 'kubernetes');
  serving = await pki.issue(ca, 'serving', { cn: 'kube-apiserver', ip: ['127.0.0.1'], usage: 'server' });
  other = await pki.issue(ca, 'other', { cn: 'other', usage: 'client' });
  node1 = await pki.issue(ca, 'node1', { cn: 'system:node:n1', o: ['system:nodes'], usage: 'client' });
  nodeKubeconfig = await writeKubeconfig(path.join(dir, 'kubelet.conf'), { server: 'https://127.0.0.1:6443', ca: ca.cert, client: node1 });
  await writeFile(path.join(dir, 'garbage.pem'), 'this is not PEM\n');
  await mkdir(path.join(dir, 'a-directory'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function lastLine(name: StandinName, args: string[], wrap?: (cmd: string[]) => string[]): Promise<{ code: number; line: string }> {
  const cmd = [process.execPath, bins[name], ...args];
  const [file, ...rest] = wrap ? wrap(cmd) : cmd;
  const r = await execa(file!, rest, { reject: false, timeout: 20_000 });
  return { code: r.exitCode ?? -1, line: String(r.stderr).trim().split('\n').at(-1)! };
}

const apiserver = (extra: string[]) => ['--etcd-servers=https://127.0.0.1:2379', ...extra];

test('apiserver: missing, directory, not-PEM and mismatched serving certificates are named with their flag', async () => {
  const missing = await lastLine('kube-apiserver', apiserver([`--tls-cert-file=${dir}/nope.crt`, `--tls-private-key-file=${serving.key}`]));
  assert.equal(missing.code, 1);
  assert.equal(missing.line, `Error: --tls-cert-file: open ${dir}/nope.crt: no such file or directory`);
  const directory = await lastLine('kube-apiserver', apiserver([`--tls-cert-file=${dir}/a-directory`, `--tls-private-key-file=${serving.key}`]));
  assert.equal(directory.line, `Error: --tls-cert-file: open ${dir}/a-directory: is a directory`);
  const garbage = await lastLine('kube-apiserver', apiserver([`--tls-cert-file=${dir}/garbage.pem`, `--tls-private-key-file=${serving.key}`]));
  assert.equal(garbage.line, `Error: --tls-cert-file: ${dir}/garbage.pem: data does not contain any valid RSA or ECDSA certificates`);
  const keyIsCert = await lastLine('kube-apiserver', apiserver([`--tls-cert-file=${serving.cert}`, `--tls-private-key-file=${serving.cert}`]));
  assert.match(keyIsCert.line, /^Error: --tls-private-key-file: .*serving\.crt: data does not contain a valid RSA or ECDSA private key$/);
  const mismatch = await lastLine('kube-apiserver', apiserver([`--tls-cert-file=${serving.cert}`, `--tls-private-key-file=${other.key}`]));
  assert.match(mismatch.line, /^Error: --tls-private-key-file: .*other\.key: private key does not match public key in --tls-cert-file .*serving\.crt$/);
  const clientCa = await lastLine('kube-apiserver', apiserver([`--tls-cert-file=${serving.cert}`, `--tls-private-key-file=${serving.key}`, `--client-ca-file=${dir}/garbage.pem`]));
  assert.match(clientCa.line, /^Error: --client-ca-file: .*garbage\.pem: data does not contain any valid RSA or ECDSA certificates$/);
  const saKey = await lastLine('kube-apiserver', apiserver([`--tls-cert-file=${serving.cert}`, `--tls-private-key-file=${serving.key}`, `--service-account-key-file=${dir}/garbage.pem`]));
  assert.match(saKey.line, /^Error: --service-account-key-file: .*garbage\.pem: data does not contain any valid RSA or ECDSA public keys$/);
  const audit = await writeFile(path.join(dir, 'audit.yaml'), toYaml({ apiVersion: 'audit.k8s.io/v2', kind: 'Policy' })).then(() => path.join(dir, 'audit.yaml'));
  const auditRun = await lastLine('kube-apiserver', apiserver([`--tls-cert-file=${serving.cert}`, `--tls-private-key-file=${serving.key}`, `--audit-policy-file=${audit}`]));
  assert.match(auditRun.line, /^Error: --audit-policy-file=.*audit\.yaml: no kind "Policy" is registered for version "audit\.k8s\.io\/v2"/);
});

test('apiserver: modes, admission plugins and service ranges are validated', async () => {
  const base = [`--tls-cert-file=${serving.cert}`, `--tls-private-key-file=${serving.key}`];
  assert.equal((await lastLine('kube-apiserver', apiserver([...base, '--authorization-mode=Node,RBAC,Magic']))).line, 'Error: authorization-mode "Magic" is not a valid mode');
  assert.equal((await lastLine('kube-apiserver', apiserver([...base, '--enable-admission-plugins=NodeRestriction,PodSecurityAdmission']))).line, 'Error: enable-admission-plugins plugin "PodSecurityAdmission" is unknown');
  assert.equal((await lastLine('kube-apiserver', apiserver([...base, '--service-cluster-ip-range=10.0.0.0/8']))).line, 'Error: specified --service-cluster-ip-range is too large');
  assert.equal((await lastLine('kube-apiserver', apiserver([...base, '--authorization-mode=ABAC']))).line, "Error: authorization-mode ABAC's authorization policy file not passed");
});

test('kubeconfigs: missing files, broken YAML, wrong kind, unknown context, missing key are refused', async () => {
  const write = async (name: string, content: string) => {
    await writeFile(path.join(dir, name), content);
    return path.join(dir, name);
  };
  const cm = (kubeconfig: string) => lastLine('kube-controller-manager', [`--kubeconfig=${kubeconfig}`]);
  assert.equal((await cm(`${dir}/none.conf`)).line, `Error: --kubeconfig: open ${dir}/none.conf: no such file or directory`);
  assert.match((await cm(await write('broken.conf', 'clusters: [\n'))).line, /^Error: --kubeconfig=.*broken\.conf: error loading config file: /);
  assert.match((await cm(await write('wrong-kind.conf', toYaml({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration' })))).line, /no kind "KubeletConfiguration" is registered for version "kubelet\.config\.k8s\.io\/v1beta1"/);
  assert.match((await cm(await write('no-context.conf', toYaml({ apiVersion: 'v1', kind: 'Config', 'current-context': 'gone', contexts: [] })))).line, /context was not found for specified context: gone/);
  const noKey = await write('no-key.conf', toYaml({ apiVersion: 'v1', kind: 'Config', 'current-context': 'c', clusters: [{ name: 'k', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority': ca.cert } }], users: [{ name: 'u', user: { 'client-certificate': other.cert, 'client-key': `${dir}/missing.key` } }], contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }] }));
  assert.equal((await cm(noKey)).line, `Error: --kubeconfig=${noKey}: client-key: open ${dir}/missing.key: no such file or directory`);
  const badCa = await writeKubeconfig(path.join(dir, 'bad-ca.conf'), { server: 'https://127.0.0.1:6443', ca: path.join(dir, 'garbage.pem'), client: other });
  assert.match((await cm(badCa)).line, /certificate-authority .*garbage\.pem: data does not contain any valid RSA or ECDSA certificates/);
  const wrongKey = await writeKubeconfig(path.join(dir, 'wrong-key.conf'), { server: 'https://127.0.0.1:6443', ca: ca.cert, client: { cert: other.cert, key: node1.key } });
  assert.match((await cm(wrongKey)).line, /private key does not match public key/);
  assert.equal((await lastLine('kube-controller-manager', [])).line, 'Error: invalid configuration: no configuration has been provided');
});

test('component configs of the wrong kind or apiVersion, and invalid values, are refused', async () => {
  const cfg = async (name: string, doc: unknown) => {
    await writeFile(path.join(dir, name), toYaml(doc));
    return path.join(dir, name);
  };
  const kubelet = (config: string, extra: string[] = [`--kubeconfig=${nodeKubeconfig}`]) => lastLine('kubelet', [`--config=${config}`, ...extra]);
  assert.match((await kubelet(await cfg('proxy-as-kubelet.yaml', { apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration' }))).line, /no kind "KubeProxyConfiguration" is registered for version "kubeproxy\.config\.k8s\.io\/v1alpha1" \(this component reads kind KubeletConfiguration, apiVersion kubelet\.config\.k8s\.io\/v1beta1\)/);
  assert.match((await kubelet(await cfg('kubelet-alpha.yaml', { apiVersion: 'kubelet.config.k8s.io/v1alpha1', kind: 'KubeletConfiguration' }))).line, /no kind "KubeletConfiguration" is registered for version "kubelet\.config\.k8s\.io\/v1alpha1"/);
  assert.match((await kubelet(await cfg('kubelet-port.yaml', { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', readOnlyPort: 'ten' }))).line, /invalid KubeletConfiguration: readOnlyPort: /);
  assert.match((await kubelet(await cfg('kubelet-mode.yaml', { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', authorization: { mode: 'RBAC' } }))).line, /invalid KubeletConfiguration: authorization\.mode: /);
  const base = { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration' };
  assert.equal((await kubelet(await cfg('kubelet-static.yaml', { ...base, staticPodPath: `${dir}/no-manifests` }))).line, `Error: --config=${dir}/kubelet-static.yaml: staticPodPath: open ${dir}/no-manifests: no such file or directory`);
  assert.match((await kubelet(await cfg('kubelet-ca.yaml', { ...base, authentication: { x509: { clientCAFile: `${dir}/garbage.pem` } } }))).line, /authentication\.x509\.clientCAFile: .*garbage\.pem: data does not contain any valid RSA or ECDSA certificates/);
  assert.match((await kubelet(await cfg('kubelet-tls.yaml', { ...base, tlsCertFile: serving.cert, tlsPrivateKeyFile: other.key }))).line, /tlsPrivateKeyFile: .*other\.key: private key does not match public key/);
  assert.match((await kubelet(await cfg('kubelet-gc.yaml', { ...base, imageGCHighThresholdPercent: 50, imageGCLowThresholdPercent: 60 }))).line, /ImageGCLowThresholdPercent \(--image-gc-low-threshold\) 60 must be less than ImageGCHighThresholdPercent/);
  // The v1beta1 defaults need a kubeconfig for webhook authentication.
  assert.equal((await kubelet(await cfg('kubelet-min.yaml', base), [])).line, 'Error: no client provided, cannot use webhook authentication');

  assert.match((await lastLine('kube-proxy', [`--config=${await cfg('proxy-old.yaml', { apiVersion: 'componentconfig/v1alpha1', kind: 'KubeProxyConfiguration' })}`])).line, /no kind "KubeProxyConfiguration" is registered for version "componentconfig\/v1alpha1"/);
  assert.match((await lastLine('kube-proxy', [`--config=${await cfg('proxy-mode.yaml', { apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', mode: 'nftables' })}`])).line, /KubeProxyConfiguration\.mode: Invalid value: "nftables"/);
  assert.match((await lastLine('kube-scheduler', [`--config=${await cfg('sched-old.yaml', { apiVersion: 'componentconfig/v1alpha1', kind: 'KubeSchedulerConfiguration' })}`])).line, /no kind "KubeSchedulerConfiguration" is registered for version "componentconfig\/v1alpha1"/);
});

test('kubelet: a swap device in /proc/swaps stops it while failSwapOn is true', async () => {
  const config = path.join(dir, 'kubelet-swap.yaml');
  await writeFile(config, toYaml({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', authentication: { webhook: { enabled: false } }, authorization: { mode: 'AlwaysAllow' } }));
  const swaps = path.join(dir, 'swaps');
  await writeFile(swaps, 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swapfile                               file\t\t1048572\t\t0\t\t-2\n');
  // A private mount namespace shows the kubelet a /proc/swaps with a swap file in it.
  const withSwap = (cmd: string[]) => ['unshare', '-m', 'sh', '-c', `mount --bind "$0" /proc/swaps && exec "$@"`, swaps, ...cmd];
  const on = await lastLine('kubelet', [`--config=${config}`, `--kubeconfig=${nodeKubeconfig}`, '--hostname-override=n1'], withSwap);
  assert.equal(on.code, 255);
  assert.match(on.line, /^F\d{4} .*failed to run Kubelet: Running with swap on is not supported, please disable swap! or set --fail-swap-on flag to false\. \/proc\/swaps contained: \[Filename.*\/swapfile/);
  // With --fail-swap-on=false it gets past swap and stops at the (absent) container runtime.
  const off = await lastLine('kubelet', [`--config=${config}`, `--kubeconfig=${nodeKubeconfig}`, '--hostname-override=n1', '--fail-swap-on=false', '--container-runtime=remote', `--container-runtime-endpoint=unix://${dir}/no.sock`], withSwap);
  assert.match(off.line, /failed to run Kubelet: failed to create kubelet: rpc error: code = Unavailable .*no\.sock: no such file or directory/);
});
