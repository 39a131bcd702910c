/**
 * The v1.13 flag contract for rendered units (src/cluster/flags.ts): what each component accepts,
 * patch-gated flags, etcd's environment variables, and the error that names template and flag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KprovError } from '../../../src/errors.js';
import {
  acceptedKubeFlags,
  execStartLines,
  nearestEtcdReference,
  renderEtcdEnv,
  renderUnit,
  splitCommandLine,
  validateEtcdEnv,
  validateUnitFlags,
} from '../../../src/cluster/flags.js';

function templateError(fn: () => void): KprovError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof KprovError, `expected a KprovError, got ${String(err)}`);
    assert.equal(err.code, 'template');
    return err;
  }
  assert.fail('expected an error');
}

const APISERVER_UNIT = `[Unit]
Description=Kubernetes API Server

[Service]
ExecStart=/usr/local/bin/kube-apiserver \\
  --advertise-address=10.0.0.1 \\
  --authorization-mode=Node,RBAC \\
  --insecure-port=0 \\
  --etcd-servers=https://10.0.0.1:2379,https://10.0.0.2:2379 \\
  "--requestheader-allowed-names=front-proxy-client" \\
  --v=2
Restart=on-failure
`;

test('a kubeadm-style apiserver unit passes; the error names the template, component and flag', () => {
  validateUnitFlags('kube-apiserver', APISERVER_UNIT, 'templates/systemd/kube-apiserver.service.j2');
  const err = templateError(() =>
    validateUnitFlags('kubelet', 'ExecStart=/usr/local/bin/kubelet --config=/var/lib/kubelet/config.yaml --foo=bar', 'templates/systemd/kubelet.service.j2'),
  );
  assert.equal(err.message, 'templates/systemd/kubelet.service.j2: kubelet does not accept --foo (v1.13)');
  assert.equal(err.exitCode, 2);
  assert.match(err.hint ?? '', /flags-v1\.13\.json/);
});

test('deprecated and hidden flags that v1.13 still accepts are accepted; removed ones are not', () => {
  validateUnitFlags('kube-apiserver', 'kube-apiserver --insecure-port=0 --address=127.0.0.1', 'u');
  validateUnitFlags('kubelet', 'kubelet --experimental-dockershim --allow-privileged=true', 'u');
  validateUnitFlags('kube-controller-manager', 'kube-controller-manager --address=127.0.0.1 --port=10252', 'u');
  // Admission control's old flag spelling and a flag from a later release.
  const err = templateError(() => validateUnitFlags('kube-apiserver', 'kube-apiserver --enable-priority-and-fairness', 'u'));
  assert.match(err.message, /kube-apiserver does not accept --enable-priority-and-fairness/);
});

test('patch-release additions count only from their release on', () => {
  const line = 'ExecStart=/usr/local/bin/kube-proxy --config=/var/lib/kube-proxy/config.yaml --metrics-port=10249';
  const err = templateError(() => validateUnitFlags('kube-proxy', line, 'templates/systemd/kube-proxy.service.j2', { kubeVersion: 'v1.13.3' }));
  assert.match(err.message, /kube-proxy does not accept --metrics-port \(only from v1\.13\.4; kube_version is v1\.13\.3\)/);
  assert.match(err.hint ?? '', /raise kube_version to v1\.13\.4/);
  validateUnitFlags('kube-proxy', line, 'u', { kubeVersion: 'v1.13.4' });
  // Without a version the oldest v1.13 is assumed: patch additions are refused.
  templateError(() => validateUnitFlags('kube-scheduler', 'kube-scheduler --authentication-tolerate-lookup-failure', 'u'));
  validateUnitFlags('kube-scheduler', 'kube-scheduler --authentication-tolerate-lookup-failure', 'u', { kubeVersion: 'v1.13.1' });
  assert.ok(acceptedKubeFlags('kube-proxy', 'v1.13.12').has('ipvs-strict-arp'));
  assert.ok(!acceptedKubeFlags('kube-proxy', 'v1.13.5').has('ipvs-strict-arp'));
});

test('only the kubelet normalises underscores; -v and -h shorthands are known', () => {
  validateUnitFlags('kubelet', 'kubelet --log_dir=/var/log -v=2', 'u');
  const err = templateError(() => validateUnitFlags('kube-scheduler', 'kube-scheduler --log_dir=/var/log', 'u'));
  assert.match(err.message, /does not accept --log_dir/);
  validateUnitFlags('kube-scheduler', 'kube-scheduler -v 2 -h', 'u');
});

test('ExecStart: continuation lines, quotes, systemd prefixes; variables and unbalanced quotes are refused', () => {
  assert.deepEqual(execStartLines('[Service]\nExecStart=-/bin/x \\\n  --a=1 \\\n  --b "two words"\n'), ['/bin/x    --a=1    --b "two words"']);
  assert.deepEqual(splitCommandLine(`/bin/x --a="q \\"x\\"" 'single quoted' plain`), ['/bin/x', '--a=q "x"', 'single quoted', 'plain']);
  const err = templateError(() => validateUnitFlags('kubelet', 'ExecStart=/usr/local/bin/kubelet $KUBELET_ARGS', 'templates/systemd/kubelet.service.j2'));
  assert.match(err.message, /ExecStart uses an environment variable \(\$KUBELET_ARGS\)/);
  templateError(() => validateUnitFlags('kubelet', 'ExecStart=/usr/local/bin/kubelet "--v=2', 'u'));
  templateError(() => validateUnitFlags('kubelet', '[Service]\nType=simple\n', 'u'));
});

const ETCD_ENV = `# etcd settings, managed by kprov
ETCD_NAME=etcd1
ETCD_DATA_DIR=/var/lib/etcd
ETCD_ADVERTISE_CLIENT_URLS=https://10.0.0.1:2379
ETCD_INITIAL_ADVERTISE_PEER_URLS=https://10.0.0.1:2380
ETCD_INITIAL_CLUSTER_STATE=new
ETCD_INITIAL_CLUSTER=etcd1=https://10.0.0.1:2380
ETCD_INITIAL_CLUSTER_TOKEN=k8s_etcd
ETCD_LISTEN_CLIENT_URLS=https://10.0.0.1:2379,https://127.0.0.1:2379
ETCD_LISTEN_PEER_URLS=https://10.0.0.1:2380
ETCD_CLIENT_CERT_AUTH=true
ETCD_PEER_CLIENT_CERT_AUTH=true
ETCD_SNAPSHOT_COUNT=10000
`;

test('etcd env files: ETCD_<FLAG> names checked against the nearest reference list', () => {
  assert.equal(nearestEtcdReference('v3.2.26'), 'etcd-v3.2.24');
  assert.equal(nearestEtcdReference('3.3.13'), 'etcd-v3.3.10');
  assert.equal(nearestEtcdReference('v3.4.23'), 'etcd-v3.3.10');
  assert.equal(nearestEtcdReference('v3.1.20'), 'etcd-v3.2.24');
  validateEtcdEnv(ETCD_ENV, 'v3.4.23', 'templates/systemd/etcd.env.j2');
  validateEtcdEnv(ETCD_ENV, 'v3.2.24', 'templates/systemd/etcd.env.j2');
  // New in 3.3: accepted for 3.3/3.4, refused for 3.2.
  const metrics = `${ETCD_ENV}ETCD_LISTEN_METRICS_URLS=http://127.0.0.1:2381\n`;
  validateEtcdEnv(metrics, 'v3.4.23', 'e');
  const err = templateError(() => validateEtcdEnv(metrics, 'v3.2.24', 'templates/systemd/etcd.env.j2'));
  assert.equal(err.message, 'templates/systemd/etcd.env.j2:14: etcd v3.2.24 does not accept ETCD_LISTEN_METRICS_URLS (--listen-metrics-urls)');
  assert.match(templateError(() => validateEtcdEnv('ETCD_PEER_CLIENT_CERTAUTH=true\n', 'v3.4.23', 'e')).message, /does not accept ETCD_PEER_CLIENT_CERTAUTH/);
  assert.match(templateError(() => validateEtcdEnv('PATH=/bin\n', 'v3.4.23', 'e')).message, /PATH is not an etcd setting/);
  assert.match(templateError(() => validateEtcdEnv('ETCD_NAME=a\nETCD_NAME=b\n', 'v3.4.23', 'e')).message, /e:2: ETCD_NAME is set twice \(first on line 1\)/);
  assert.match(templateError(() => validateEtcdEnv('export ETCD_NAME=a\n', 'v3.4.23', 'e')).message, /not a KEY=VALUE line/);
  validateEtcdEnv('ETCD_UNSUPPORTED_ARCH=arm64\nGOMAXPROCS=2\n', 'v3.4.23', 'e');
});

test('etcd flags on an ExecStart line are checked too', () => {
  validateUnitFlags('etcd', 'ExecStart=/usr/local/bin/etcd --name=a --data-dir=/var/lib/etcd', 'u', { etcdVersion: 'v3.4.23' });
  assert.match(templateError(() => validateUnitFlags('etcd', '/usr/local/bin/etcd --logger=zap', 'u', { etcdVersion: 'v3.4.23' })).message, /etcd does not accept --logger/);
});

test('renderUnit and renderEtcdEnv render, then check with the cluster\'s versions', () => {
  const templates: Record<string, string> = {
    'systemd/kube-proxy.service.j2': '[Service]\nExecStart=/bin/kube-proxy --metrics-port=10249\n',
    'systemd/etcd.env.j2': 'ETCD_LISTEN_METRICS_URLS=http://127.0.0.1:2381\n',
    'systemd/containerd.service.j2': '[Service]\nExecStart=/bin/containerd --anything\n',
  };
  const render = (p: string) => templates[p]!;
  const at = (kube: string, etcd: string) => ({ render, run: { inventory: { cluster: { kube_version: kube, etcd_version: etcd } } } });
  assert.match(renderUnit(at('v1.13.5', 'v3.4.23'), 'systemd/kube-proxy.service.j2', {}, 'kube-proxy'), /metrics-port/);
  assert.match(templateError(() => renderUnit(at('v1.13.2', 'v3.4.23'), 'systemd/kube-proxy.service.j2', {}, 'kube-proxy')).message, /^templates\/systemd\/kube-proxy\.service\.j2: /);
  renderEtcdEnv(at('v1.13.5', 'v3.3.10'), 'systemd/etcd.env.j2', {});
  templateError(() => renderEtcdEnv(at('v1.13.5', 'v3.2.26'), 'systemd/etcd.env.j2', {}));
  renderUnit(at('v1.13.5', 'v3.2.26'), 'systemd/containerd.service.j2', {}, 'none');
});
