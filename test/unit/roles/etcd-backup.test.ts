import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { listBackups } from '../../../src/roles/etcd/backup.js';

test('backups are listed oldest first, each checked against its recorded sha256', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-backups-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'backups'));
  const write = async (name: string, data: string, recorded = data) => {
    await writeFile(path.join(dir, 'backups', name), data);
    const record = { file: name, sha256: createHash('sha256').update(recorded).digest('hex'), bytes: recorded.length, takenAt: '2026-12-03T10:00:00.000Z', member: 'etcd1', members: ['etcd1', 'etcd2', 'etcd3'] };
    await writeFile(path.join(dir, 'backups', `${name}.json`), JSON.stringify(record));
  };
  await write('etcd-20261203T100000Z.db', 'snapshot one');
  await write('etcd-20261203T110000Z.db', 'snapshot twX', 'snapshot two');
  const listed = await listBackups(dir);
  assert.deepEqual(listed.map((b) => [b.file, b.intact]), [['etcd-20261203T100000Z.db', true], ['etcd-20261203T110000Z.db', false]]);
  assert.deepEqual(await listBackups(path.join(dir, 'nothing-here')), []);
});
