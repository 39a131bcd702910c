/**
 * Command-line behaviour of the bundled stand-ins (the files the lab serves), and the pure helpers
 * underneath: pflag parsing, the v1.13 flag sets, durations, patches, content negotiation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { Flags, parseArgs, FlagParseError } from '../../../dev/standin/common/flags.js';
import { flagSetSpec } from '../../../dev/standin/common/flagspec.js';
import { humanDuration, parseGoDuration } from '../../../dev/standin/common/duration.js';
import { strategicMergePatch, mergePatch } from '../../../dev/standin/kube-apiserver/patch.js';
import { negotiate } from '../../../dev/standin/kube-apiserver/tables.js';
import { decodeStringFields } from '../../../dev/standin/kubelet/cri.js';
import { standinNames } from '../../../dev/release/bundle.js';
import { standins } from './support/scenario.js';

const run = async (file: string, args: string[]) => {
  const r = await execa(process.execPath, [file, ...args], { reject: false, timeout: 20_000 });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
};

test('every stand-in prints its baked-in version and rejects unknown flags the way cobra does', async () => {
  const bins = await standins();
  await Promise.all(
    standinNames.map(async (name) => {
      const version = await run(bins[name], ['--version']);
      assert.equal(version.code, 0, `${name}: ${version.stderr}`);
      assert.equal(version.stdout, 'Kubernetes v1.13.5');
      const unknown = await run(bins[name], ['--definitely-not-a-flag=1']);
      assert.equal(unknown.code, 1, name);
      assert.equal(unknown.stderr.split('\n')[0], 'Error: unknown flag: --definitely-not-a-flag');
    }),
  );
});

test('flags from later releases or removed before v1.13 are unknown; patch-release flags follow the version', async () => {
  const bins = await standins();
  // --etcd-quorum-read was removed in 1.13; --kubelet-client-certificate is fine but needs its key.
  assert.match((await run(bins['kube-apiserver'], ['--etcd-quorum-read=true'])).stderr, /^Error: unknown flag: --etcd-quorum-read/);
  // kubelet: --google-json-key removed in 1.13; --cgroup-driver accepted (deprecated config flag).
  assert.match((await run(bins.kubelet, ['--google-json-key=x'])).stderr, /^Error: unknown flag: --google-json-key/);
  // kube-proxy --metrics-port exists from v1.13.4 (the bundles are v1.13.5), --ipvs-strict-arp from v1.13.6.
  assert.equal((await run(bins['kube-proxy'], ['--metrics-port=10249', '--version'])).code, 0);
  assert.match((await run(bins['kube-proxy'], ['--ipvs-strict-arp'])).stderr, /^Error: unknown flag: --ipvs-strict-arp/);
  // Only the kubelet normalises underscores.
  assert.equal((await run(bins.kubelet, ['--log_dir=/tmp', '--version'])).code, 0);
  assert.match((await run(bins['kube-scheduler'], ['--log_dir=/tmp'])).stderr, /^Error: unknown flag: --log_dir/);
  // Values are checked as pflag checks them.
  assert.match((await run(bins['kube-apiserver'], ['--secure-port=https'])).stderr, /^Error: invalid argument "https" for "--secure-port" flag: strconv\.ParseInt: parsing "https": invalid syntax/);
  assert.match((await run(bins['kube-controller-manager'], ['--leader-elect-lease-duration=15'])).stderr, /^Error: invalid argument "15" for "--leader-elect-lease-duration" flag: time: missing unit in duration 15/);
  assert.match((await run(bins['kube-scheduler'], ['--leader-elect=yes'])).stderr, /strconv\.ParseBool: parsing "yes": invalid syntax/);
  assert.match((await run(bins['kube-proxy'], ['--kubeconfig'])).stderr, /^Error: flag needs an argument: --kubeconfig/);
  // A kubelet given a positional argument dies like klog.Fatal.
  const positional = await run(bins.kubelet, ['start']);
  assert.equal(positional.code, 255);
  assert.match(positional.stderr.trim().split('\n').at(-1)!, /^F\d{4} .*unknown command: start$/);
});

test('required apiserver flags and values are enforced', async () => {
  const bins = await standins();
  const api = bins['kube-apiserver'];
  const last = (r: { stderr: string }) => r.stderr.trim().split('\n').at(-1)!;
  assert.equal(last(await run(api, [])), 'Error: --etcd-servers must be specified');
  assert.equal(last(await run(api, ['--etcd-servers=https://127.0.0.1:2379', '--storage-backend=etcd2'])), "Error: --storage-backend invalid, allowed values: etcd3. If not specified, it will default to 'etcd3'");
  assert.equal(last(await run(api, ['--etcd-servers=https://127.0.0.1:2379', '--etcd-certfile=/x'])), 'Error: --etcd-certfile and --etcd-keyfile must be specified together');
  assert.match(last(await run(api, ['--etcd-servers=https://127.0.0.1:2379', '--secure-port=0'])), /--secure-port 0 must be between 1 and 65535, inclusive\. It cannot be turned off with 0/);
});

test('pflag parsing: forms, repeats, shorthands, terminator', () => {
  const spec = flagSetSpec('kube-apiserver', 'v1.13.5');
  const flags = new Flags(parseArgs(spec, ['--etcd-servers', 'https://a:2379', '--etcd-servers=https://b:2379,https://c:2379', '--anonymous-auth', '--profiling=false', '-v', '4', '--', '--not-a-flag']));
  assert.deepEqual(flags.list('etcd-servers'), ['https://a:2379', 'https://b:2379', 'https://c:2379']);
  assert.equal(flags.bool('anonymous-auth', false), true);
  assert.equal(flags.bool('profiling', true), false);
  assert.equal(flags.int('v', 0), 4);
  assert.deepEqual(flags.args, ['--not-a-flag']);
  assert.throws(() => parseArgs(spec, ['-x']), (e: unknown) => e instanceof FlagParseError && e.message === "unknown shorthand flag: 'x' in -x");
  assert.throws(() => parseArgs(spec, ['---etcd-servers=x']), /bad flag syntax: ---etcd-servers=x/);
  assert.equal(new Flags(parseArgs(spec, ['--version=raw'])).string('version'), 'raw');
});

test('the flag sets come from the vendored v1.13 reference', () => {
  for (const name of standinNames) {
    const spec = flagSetSpec(name, 'v1.13.0');
    assert.ok(spec.accepted.has('v') && spec.accepted.has('version') && spec.accepted.has('help'), name);
  }
  assert.ok(!flagSetSpec('kube-controller-manager', 'v1.13.0').accepted.has('authentication-tolerate-lookup-failure'));
  assert.ok(flagSetSpec('kube-controller-manager', 'v1.13.1').accepted.has('authentication-tolerate-lookup-failure'));
  assert.throws(() => flagSetSpec('kubelet', 'v1.14.0'), /v1\.13\.N only/);
});

test('Go durations and the AGE column', () => {
  assert.equal(parseGoDuration('1m30s'), 90_000);
  assert.equal(parseGoDuration('1.5h'), 5_400_000);
  assert.equal(parseGoDuration('250ms'), 250);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('10'), 'time: missing unit in duration 10');
  assert.equal(parseGoDuration('5d'), 'time: unknown unit d in duration 5d');
  assert.equal(humanDuration(59_000), '59s');
  assert.equal(humanDuration(5 * 60_000 + 7_000), '5m7s');
  assert.equal(humanDuration(3 * 3_600_000 + 5 * 60_000), '3h5m');
  assert.equal(humanDuration(3 * 24 * 3_600_000), '3d');
});

test('strategic merge patches merge node conditions by type; merge patches replace lists', () => {
  const current = { status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'DiskPressure', status: 'False' }] } };
  const patch = { status: { conditions: [{ type: 'Ready', status: 'True' }] } };
  assert.deepEqual(strategicMergePatch(current, patch), { status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'DiskPressure', status: 'False' }] } });
  assert.deepEqual(mergePatch(current, patch), patch);
  assert.deepEqual(mergePatch({ a: 1, b: 2 }, { b: null }), { a: 1 });
});

test('content negotiation: kubectl 1.20 gets a v1beta1 Table, v1-only Table requests are not acceptable', () => {
  assert.equal(negotiate('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'), 'table');
  assert.equal(negotiate('application/json'), 'json');
  assert.equal(negotiate(undefined), 'json');
  assert.equal(negotiate('application/json;as=Table;v=v1;g=meta.k8s.io'), 'unacceptable');
  assert.equal(negotiate('application/vnd.kubernetes.protobuf'), 'unacceptable');
});

test('protobuf string fields decode from the wire format containerd sends', () => {
  // VersionResponse{version:"0.1.0", runtime_name:"containerd", runtime_version:"1.6.20", runtime_api_version:"v1alpha2"}
  const field = (n: number, s: string) => Buffer.concat([Buffer.from([(n << 3) | 2, s.length]), Buffer.from(s)]);
  const msg = Buffer.concat([field(1, '0.1.0'), field(2, 'containerd'), field(3, '1.6.20'), field(4, 'v1alpha2')]);
  const fields = decodeStringFields(msg);
  assert.equal(fields.get(2), 'containerd');
  assert.equal(fields.get(4), 'v1alpha2');
});
