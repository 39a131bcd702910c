/**
 * An etcd snapshot taken on a healthy member and kept in `<inventory>/backups/`: the snapshot
 * (`etcd-<UTC time>.db`, 0600 in a 0700 directory), its sha256 beside it, and a JSON record of
 * the member it came from and the member list at the time. The remote copy is removed after.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { EtcdMember } from '../../cluster/topology.js';
import { KprovError } from '../../errors.js';
import type { RemoteHost } from '../../ssh/types.js';
import { etcdctlArgv, type Etcdctl } from './etcdctl.js';

export const BACKUPS_DIR_NAME = 'backups';
const REMOTE_DIR = '/var/lib/kprov/backups';
const ENV = { ETCDCTL_API: '3' };

const recordSchema = z.object({
  file: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  takenAt: z.string(),
  member: z.string(),
  members: z.array(z.string()),
});
export type BackupRecord = z.infer<typeof recordSchema>;

export interface BackupSource {
  member: EtcdMember;
  host: RemoteHost;
  etcdctl: Etcdctl;
}

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

/** Takes a snapshot from the first healthy source and stores it under `inventoryDir`; returns its record. */
export async function backupEtcd(inventoryDir: string, sources: readonly BackupSource[], options: { output?: string; now?: Date } = {}): Promise<BackupRecord> {
  const problems: string[] = [];
  for (const s of sources) {
    const health = await s.host.exec(etcdctlArgv(s.etcdctl, ['https://127.0.0.1:2379'], ['endpoint', 'health']), { env: ENV, timeoutMs: 15_000 });
    if (health.code !== 0) {
      problems.push(`${s.member.host.name}: not healthy (${(health.stderr || health.stdout).trim().split('\n')[0]})`);
      continue;
    }
    const now = options.now ?? new Date();
    const name = `etcd-${stamp(now)}.db`;
    const remote = `${REMOTE_DIR}/${name}`;
    await s.host.run(['mkdir', '-p', '-m', '0700', REMOTE_DIR]);
    try {
      await s.host.run(etcdctlArgv(s.etcdctl, ['https://127.0.0.1:2379'], ['snapshot', 'save', remote], '120s'), { env: ENV, timeoutMs: 180_000 });
      const data = await s.host.readFile(remote);
      if (!data) throw new KprovError('host', `the snapshot ${remote} vanished before it was copied`, { host: s.member.host.name });
      const members = await s.host.run(etcdctlArgv(s.etcdctl, ['https://127.0.0.1:2379'], ['member', 'list', '-w', 'json']), { env: ENV, timeoutMs: 15_000 });
      const names = (z.object({ members: z.array(z.object({ name: z.string().optional() })) }).parse(JSON.parse(members.stdout)).members)
        .map((m) => m.name ?? '')
        .filter((n) => n !== '')
        .sort();
      const file = options.output ? path.resolve(options.output) : path.join(inventoryDir, BACKUPS_DIR_NAME, name);
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(file, data, { mode: 0o600 });
      const record: BackupRecord = {
        file: path.basename(file),
        sha256: createHash('sha256').update(data).digest('hex'),
        bytes: data.length,
        takenAt: now.toISOString(),
        member: s.member.name,
        members: names,
      };
      await writeFile(`${file}.sha256`, `${record.sha256}  ${record.file}\n`, { mode: 0o600 });
      await writeFile(`${file}.json`, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
      return record;
    } finally {
      await s.host.exec(['rm', '-f', '--', remote]);
    }
  }
  throw new KprovError('host', `no etcd member could take a snapshot: ${problems.join('; ')}`);
}

/** The backups kept under the inventory, oldest first, each checked against its recorded sha256. */
export async function listBackups(inventoryDir: string): Promise<(BackupRecord & { path: string; intact: boolean })[]> {
  const dir = path.join(inventoryDir, BACKUPS_DIR_NAME);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.db.json')).sort();
  const out: (BackupRecord & { path: string; intact: boolean })[] = [];
  for (const n of names) {
    const record = recordSchema.safeParse(JSON.parse(await readFile(path.join(dir, n), 'utf8').catch(() => 'null')));
    if (!record.success) continue;
    const file = path.join(dir, record.data.file);
    const data = await readFile(file).catch(() => undefined);
    const intact = data !== undefined && (await stat(file)).size === record.data.bytes && createHash('sha256').update(data).digest('hex') === record.data.sha256;
    out.push({ ...record.data, path: file, intact });
  }
  return out;
}
