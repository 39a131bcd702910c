import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LabStateStore, listLabNames, readLabState, type LabState } from '../../../src/lab/state.js';
import { readLabFile, writeLabFiles, type LabFile } from '../../../src/lab/lab-files.js';

function initialState(name: string): LabState {
  return {
    version: 1,
    name,
    createdAt: new Date(0).toISOString(),
    phase: 'creating',
    namespace: `kprov-${name}`,
    bridge: { name: 'kprov-br0', address: '10.213.0.1', prefixLength: 24 },
    cgroups: [],
    hosts: [],
  };
}

test('state updates from parallel work are all on disk, in order', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'kprov-state-'));
  const env = { KPROV_LAB_STATE: root };
  const dir = path.join(root, 'labs', 'one');
  await mkdir(dir, { recursive: true });
  const store = new LabStateStore(dir, initialState('one'));
  await Promise.all(
    [3, 1, 2].map((index) =>
      store.update((s) => {
        s.hosts.push({
          name: `node${index}`,
          index,
          address: `10.213.0.${10 + index}`,
          machine: `one-node${index}`,
          namespace: `kprov-one.node${index}`,
          veth: `veth-node${index}`,
          dir: `/x/node${index}`,
          root: `/x/node${index}/root`,
          consoleLog: `/x/node${index}/console.log`,
          cgroups: [],
        });
      }),
    ),
  );
  await store.updateHost('node2', (h) => {
    h.nspawn = { pid: 1234, startTime: '99' };
  });
  const saved = await readLabState('one', env);
  assert.deepEqual(saved?.hosts.map((h) => h.name), ['node3', 'node1', 'node2']);
  assert.deepEqual(saved?.hosts[2]?.nspawn, { pid: 1234, startTime: '99' });
  assert.equal((await stat(path.join(dir, 'state.json'))).mode & 0o777, 0o600);
  assert.deepEqual(await listLabNames(env), ['one']);
  assert.equal(await readLabState('absent', env), undefined);
});

test('a damaged state file is an error naming the file', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'kprov-state-'));
  const dir = path.join(root, 'labs', 'bad');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'state.json'), '{"version":1,"name":"bad"}');
  await assert.rejects(readLabState('bad', { KPROV_LAB_STATE: root }), (err: Error & { location?: { file: string } }) => {
    assert.match(err.message, /lab state does not match its schema/);
    assert.equal(err.location?.file, path.join(dir, 'state.json'));
    return true;
  });
});

test('lab files: lab.json round-trips, lab.yml sets the user, the password file is 0600', async () => {
  const inv = await mkdtemp(path.join(tmpdir(), 'kprov-inv-'));
  assert.equal(await readLabFile(inv), undefined);
  const lab: LabFile = {
    name: 'lab',
    namespace: 'kprov-lab',
    bridgeAddress: '10.213.0.1',
    subnet: '10.213.0.0/24',
    mirrorUrl: 'http://10.213.0.1:8080/',
    mirrorRoot: '/m',
    hosts: [{ name: 'node1', address: '10.213.0.11', machine: 'lab-node1' }],
  };
  await writeLabFiles(inv, lab, 'pw-secret');
  assert.deepEqual(await readLabFile(inv), lab);
  assert.match(await readFile(path.join(inv, 'group_vars/all/lab.yml'), 'utf8'), /^ansible_user: root$/m);
  const pw = path.join(inv, 'credentials/bootstrap-password');
  assert.equal((await stat(pw)).mode & 0o777, 0o600);
  assert.equal((await stat(path.join(inv, 'credentials'))).mode & 0o777, 0o700);
  assert.equal(await readFile(pw, 'utf8'), 'pw-secret\n');
  await writeFile(path.join(inv, 'lab.json'), '{"name": 1}');
  await assert.rejects(readLabFile(inv), /lab\.json: /);
});
