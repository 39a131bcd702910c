/**
 * Shared helpers for the PKI tests: a small cluster description, temporary directories removed
 * after the test, and the real openssl.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { parsePkiInput, type PkiInput, type PkiInputDraft } from '../../../src/pki/index.js';

const execFileAsync = promisify(execFile);

/** Two control-plane/etcd hosts and one worker; every host runs a kubelet. */
export function smallCluster(overrides: Partial<PkiInputDraft> = {}): PkiInput {
  const cp1 = { name: 'cp1', ip: '10.0.0.1', accessIp: '192.0.2.1', address: 'cp1.example.test' };
  const cp2 = { name: 'cp2', ip: '10.0.0.2', address: '10.0.0.2' };
  const w1 = { name: 'w1', ip: '10.0.0.11', address: '10.0.0.11' };
  return parsePkiInput({
    clusterName: 'kprov-test',
    dnsDomain: 'cluster.local',
    serviceCidr: '10.233.0.0/18',
    controlPlane: [cp1, cp2],
    etcd: [
      { ...cp1, memberName: 'etcd1' },
      { ...cp2, memberName: 'etcd2' },
    ],
    nodes: [cp1, cp2, w1],
    loadBalancer: { address: '10.0.0.100', port: 8443, domainName: 'lb.kprov.test' },
    supplementaryAddresses: ['api.example.test', '203.0.113.7'],
    apiserverEndpoint: 'https://10.0.0.100:8443',
    ...overrides,
  });
}

export async function tempDir(t: TestContext, prefix = 'kprov-pki-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function openssl(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('openssl', args, { timeout: 30_000 });
  return stdout;
}

/** Every file under `dir` (relative path → sha256), to prove a run changed nothing. */
export async function snapshot(dir: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const child = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) for (const [k, v] of await snapshot(dir, child)) out.set(k, v);
    else out.set(child, createHash('sha256').update(await readFile(path.join(dir, child))).digest('hex'));
  }
  return out;
}

/** Files whose content differs between two snapshots (added, removed or changed). */
export function changedFiles(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}

/** An IP as OpenSSL prints it (IPv6 expanded, upper case) in the canonical compressed form. */
export function normalizeIp(ip: string): string {
  return ip.includes(':') ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}
