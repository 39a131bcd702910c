/**
 * Benchmark: the full PKI of a cluster with 3 control-plane/etcd hosts and 100 worker nodes
 * (every host runs a kubelet), from an empty directory, then the no-op re-run.
 * Usage: npm run build && node dist/bench/pki.js [ecdsa-p256|rsa-2048 …] [--nodes N]
 * Without algorithms: ecdsa-p256 (kprov's default, pki_key_algorithm), then rsa-2048.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { ensurePki, parsePkiInput, planCertificates, type KeyAlgorithm } from '../src/pki/index.js';

const args = process.argv.slice(2);
const nodesArg = args.indexOf('--nodes');
const workers = nodesArg >= 0 ? Number(args[nodesArg + 1]) : 100;
const algorithms = args.filter((a, i) => !a.startsWith('--') && (nodesArg < 0 || i !== nodesArg + 1)) as KeyAlgorithm[];

function input(keyAlgorithm: KeyAlgorithm) {
  const cp = [1, 2, 3].map((i) => ({ name: `cp${i}`, ip: `10.10.0.${i}`, accessIp: `10.10.0.${i}`, address: `10.10.0.${i}` }));
  const nodes = Array.from({ length: workers }, (_, i) => ({
    name: `node${i + 1}`,
    ip: `10.10.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`,
    address: `10.10.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`,
  }));
  return parsePkiInput({
    clusterName: 'cluster.local',
    dnsDomain: 'cluster.local',
    serviceCidr: '10.233.0.0/18',
    controlPlane: cp,
    etcd: cp.map((h, i) => ({ ...h, memberName: `etcd${i + 1}` })),
    nodes: [...cp, ...nodes],
    loadBalancer: { address: '10.10.0.100', port: 6443, domainName: 'lb-apiserver.kubernetes.local' },
    supplementaryAddresses: [],
    apiserverEndpoint: 'https://10.10.0.100:6443',
    keyAlgorithm,
  });
}

const DEFAULT: KeyAlgorithm = parsePkiInput({ ...input('ecdsa-p256'), keyAlgorithm: undefined }).keyAlgorithm;

for (const alg of algorithms.length > 0 ? algorithms : (['ecdsa-p256', 'rsa-2048'] as KeyAlgorithm[])) {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-bench-pki-'));
  try {
    const inp = input(alg);
    const specs = planCertificates(inp);
    let t = performance.now();
    const first = await ensurePki(dir, inp);
    const fullS = (performance.now() - t) / 1000;
    t = performance.now();
    const again = await ensurePki(dir, inp);
    const noopS = (performance.now() - t) / 1000;
    if (again.written.length !== 0) throw new Error(`re-run wrote ${again.written.length} files`);
    console.log(
      `pki bench: ${alg}${alg === DEFAULT ? ' (default)' : ''}, 3 control-plane + ${workers} nodes, ${specs.length} specs, ${first.keysGenerated} keys, ` +
        `${first.written.length} files on ${availableParallelism()} cores: full ${fullS.toFixed(2)} s ` +
        `(${((fullS * 1000) / first.keysGenerated).toFixed(1)} ms/key), no-op re-run ${noopS.toFixed(2)} s ` +
        `(load average ${loadavg()[0]!.toFixed(1)}: other work on the machine slows this)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
