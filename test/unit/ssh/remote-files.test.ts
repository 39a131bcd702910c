/**
 * writeRemote over a transport whose commands are the real scripts run by the local `sh` (paths
 * are under a temp directory) and whose SFTP is an in-memory stand-in over the local file system
 * that can run out of room the way OpenSSH's sftp-server reports it: status 4, "Failure".
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { SFTPWrapper } from 'ssh2';
import { KprovError } from '../../../src/errors.js';
import { writeRemote, type FileTransport } from '../../../src/ssh/remote-files.js';
import type { RawResult } from '../../../src/ssh/session.js';

type Raw = RawResult & { command: string };
type Callback = (err?: Error | null, value?: unknown) => void;

interface Options {
  become?: boolean;
  /** Bytes the SFTP server accepts before each further write fails. */
  sftpRoom?: number;
  /** The server refuses to create the file ("Failure"), as when no inode is left. */
  openFails?: boolean;
  /** What `stat -f` reports: free blocks for users and for root (4 KiB blocks), free inodes. */
  fs?: { forUsers: number; forRoot: number; inodesFree: number };
  /** Answers a command instead of the local shell (undefined: run it). */
  intercept?: (argv: readonly string[]) => RawResult | undefined;
  /** The connection is lost after this many bytes: the channel closes, and no request is ever answered again (as ssh2 does). */
  lostAfter?: number;
}

const sftpFailure = () => Object.assign(new Error('Failure'), { code: 4 });

function transport(root: string, options: Options = {}): FileTransport & { commands: string[][] } {
  const commands: string[][] = [];
  let room = options.sftpRoom ?? Number.POSITIVE_INFINITY;
  const handles = new Map<string, number>();
  const events = new EventEmitter();
  let sent = 0;
  let lost = false;
  const sftp = {
    once: (event: string, listener: () => void) => events.once(event, listener),
    open(p: string, _flags: string, _attrs: unknown, cb: Callback) {
      if (lost) return;
      if (options.openFails) return setImmediate(() => cb(sftpFailure()));
      try {
        const fd = openSync(p, 'wx', 0o600);
        const h = Buffer.from(String(fd));
        handles.set(h.toString(), fd);
        cb(null, h);
      } catch (err) {
        cb(err as Error);
      }
    },
    write(h: Buffer, data: Buffer, off: number, len: number, pos: number, cb: Callback) {
      if (lost) return;
      sent += len;
      if (options.lostAfter !== undefined && sent > options.lostAfter) {
        lost = true;
        setImmediate(() => events.emit('close'));
        return;
      }
      if (len > room) {
        room = 0;
        return setImmediate(() => cb(sftpFailure()));
      }
      room -= len;
      writeSync(handles.get(h.toString())!, data, off, len, pos);
      setImmediate(() => cb(null));
    },
    ext_openssh_fsync(h: Buffer, cb: Callback) {
      fsyncSync(handles.get(h.toString())!);
      cb(undefined);
    },
    close(h: Buffer, cb: Callback) {
      if (lost) return;
      closeSync(handles.get(h.toString())!);
      handles.delete(h.toString());
      cb(null);
    },
    unlink(p: string, cb: Callback) {
      if (lost) return;
      try {
        unlinkSync(p);
        cb(null);
      } catch (err) {
        cb(err as Error);
      }
    },
  };
  return {
    name: 'node3',
    become: options.become ?? false,
    commands,
    async execRaw(argv, stdin): Promise<Raw> {
      commands.push([...argv]);
      const command = argv.join(' ');
      const script = argv[2] ?? '';
      if (script.includes('stat -f') && options.fs) {
        const { forUsers, forRoot, inodesFree } = options.fs;
        return { code: 0, stdout: Buffer.from(`${forUsers} ${forRoot} 4096 ${inodesFree} 65536\n`), stderr: Buffer.alloc(0), command };
      }
      const answered = options.intercept?.(argv);
      if (answered) return { ...answered, command };
      const r = spawnSync(argv[0]!, argv.slice(1), stdin ? { input: stdin } : {});
      return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, command };
    },
    sftp: async () => sftp as unknown as SFTPWrapper,
    sftpHome: async () => path.join(root, 'home'),
    countUploaded: () => undefined,
  };
}

let root: string;
let target: string;
let local: string;
const content = Buffer.alloc(1024 * 1024, 'k');
const sha = createHash('sha256').update(content).digest('hex');
const spec = { mode: 0o755 };

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'kprov-remote-files-'));
  target = path.join(root, 'usr/local/bin/kubelet');
  local = path.join(root, 'kubelet.local');
  await writeFile(local, content);
  await mkdir(path.join(root, 'home'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<KprovError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof KprovError, `a KprovError, not ${String(err)}`);
    return err;
  }
  assert.fail('the write should have failed');
}

/** Files in the target's directory (no temp file may be left behind). */
const leftovers = async () => (await readdir(path.dirname(target))).sort();

test('writes, then skips an identical file', async () => {
  const t = transport(root);
  assert.equal(await writeRemote(t, target, { kind: 'local', path: local }, sha, spec), true);
  assert.deepEqual(await readFile(target), content);
  assert.equal(await writeRemote(t, target, { kind: 'local', path: local }, sha, spec), false);
});

test('a full disk behind an SFTP "Failure" is reported as no space left, naming host and path', async () => {
  await writeRemote(transport(root), target, { kind: 'buffer', data: Buffer.from('old kubelet') }, createHash('sha256').update('old kubelet').digest('hex'), spec);
  const t = transport(root, { sftpRoom: 300 * 1024, fs: { forUsers: 0, forRoot: 3, inodesFree: 100 } });
  const err = await failure(writeRemote(t, target, { kind: 'local', path: local }, sha, spec));
  assert.equal(err.host, 'node3');
  assert.equal(err.message, `writing ${target}: no space left on device`);
  assert.match(err.hint ?? '', /free some space on node3/);
  assert.equal(err.exitCode, 1);
  assert.deepEqual(await readFile(target), Buffer.from('old kubelet'), 'the old file is untouched');
  assert.deepEqual(await leftovers(), ['kubelet'], 'the partial upload is removed');
  // The free space was asked about the target's directory while the partial file still existed.
  assert.ok(t.commands.some((c) => c[2]!.includes('stat -f') && c.at(-1) === path.dirname(target)));
});

test('no inode left is also a full disk', async () => {
  const t = transport(root, { openFails: true, fs: { forUsers: 1000, forRoot: 1000, inodesFree: 0 } });
  const err = await failure(writeRemote(t, target, { kind: 'local', path: local }, sha, spec));
  assert.equal(err.message, `writing ${target}: no space left on device`);
});

test('a generic SFTP failure with room to spare keeps its own message', async () => {
  const t = transport(root, { sftpRoom: 300 * 1024, fs: { forUsers: 1_000_000, forRoot: 1_000_000, inodesFree: 100 } });
  const err = await failure(writeRemote(t, target, { kind: 'local', path: local }, sha, spec));
  assert.match(err.message, /^writing .*\.kubelet\.kprov-[0-9a-f]+: Failure$/);
  assert.doesNotMatch(err.message, /no space/);
});

test('root may use the reserved blocks; another login user may not', async () => {
  const fs = { forUsers: 0, forRoot: 1_000_000, inodesFree: 100 };
  const asRoot = await failure(writeRemote(transport(root, { sftpRoom: 300 * 1024, fs }), target, { kind: 'local', path: local }, sha, spec));
  assert.doesNotMatch(asRoot.message, /no space/);
  const t = transport(root, { become: true, sftpRoom: 300 * 1024, fs });
  const staged = await failure(writeRemote(t, target, { kind: 'local', path: local }, sha, spec));
  assert.equal(staged.message, `writing ${target}: no space left on device (staged in ${path.join(root, 'home')})`);
});

test('a shell step that runs out of room (become: cp next to the target) says so too', async () => {
  const t = transport(root, {
    become: true,
    intercept: (argv) =>
      argv[2]?.startsWith('cp --')
        ? { code: 1, stdout: Buffer.alloc(0), stderr: Buffer.from(`cp: error writing '${path.dirname(target)}/.kubelet.kprov-1': No space left on device\n`) }
        : undefined,
  });
  const err = await failure(writeRemote(t, target, { kind: 'local', path: local }, sha, spec));
  assert.equal(err.message, `writing ${target}: no space left on device`);
  assert.equal(err.host, 'node3');
});

test('a connection lost in the middle of an upload fails the write at once; nothing waits for an answer that never comes', async () => {
  const t = transport(root, { lostAfter: 512 * 1024, intercept: (argv) => (argv[2]?.includes('stat -f') ? { code: 255, stdout: Buffer.alloc(0), stderr: Buffer.from('connection lost') } : undefined) });
  const err = await failure(writeRemote(t, target, { kind: 'local', path: local }, sha, spec));
  assert.match(err.message, /the SFTP channel closed \(the connection to the host was lost\)/);
  assert.equal(err.host, 'node3');
});

test('bytes that are not what was promised are never installed', async () => {
  const t = transport(root);
  const promised = createHash('sha256').update('something else').digest('hex');
  const err = await failure(writeRemote(t, target, { kind: 'local', path: local }, promised, spec));
  assert.match(err.message, new RegExp(`the bytes read had sha256 ${sha}, not the promised ${promised}; nothing was installed`));
  assert.equal(err.host, 'node3');
  assert.deepEqual(await leftovers(), [], 'no temp file and no target');
});

describe('small content known to differ, in one command (content on stdin)', () => {
  const small = Buffer.from('ETCD_NAME=etcd1\n');
  const smallSha = createHash('sha256').update(small).digest('hex');
  const conf = () => path.join(root, 'etc', 'kprov', 'etcd.env');
  const me = String(process.getuid?.() ?? 0);

  test('writes with mode, then skips it identical; a wrong mode alone is fixed without sending a new file', async () => {
    const t = transport(root);
    assert.equal(await writeRemote(t, conf(), { kind: 'buffer', data: small }, smallSha, { mode: 0o640, owner: me }, true), true);
    assert.deepEqual(await readFile(conf()), small);
    assert.equal((await stat(conf())).mode & 0o7777, 0o640);
    assert.equal(t.commands.length, 1, 'one command, no SFTP');
    assert.equal(await writeRemote(t, conf(), { kind: 'buffer', data: small }, smallSha, { mode: 0o640, owner: me }, true), false);
    await chmod(conf(), 0o644);
    assert.equal(await writeRemote(t, conf(), { kind: 'buffer', data: small }, smallSha, { mode: 0o640 }, true), true);
    assert.equal((await stat(conf())).mode & 0o7777, 0o640);
    assert.deepEqual(await readdir(path.dirname(conf())), ['etcd.env'], 'no temp file left');
  });

  test('new content replaces the old; a directory in the way is refused', async () => {
    const t = transport(root);
    await writeRemote(t, conf(), { kind: 'buffer', data: Buffer.from('old\n') }, createHash('sha256').update('old\n').digest('hex'), { mode: 0o600 }, true);
    assert.equal(await writeRemote(t, conf(), { kind: 'buffer', data: small }, smallSha, { mode: 0o600 }, true), true);
    assert.deepEqual(await readFile(conf()), small);
    const err = await failure(writeRemote(t, path.dirname(conf()), { kind: 'buffer', data: small }, smallSha, { mode: 0o600 }, true));
    assert.match(err.message, /it is a directory$/);
  });

  test('a full disk while the command writes says so, and the old file stays', async () => {
    await writeRemote(transport(root), conf(), { kind: 'buffer', data: Buffer.from('old\n') }, createHash('sha256').update('old\n').digest('hex'), { mode: 0o600 }, true);
    const t = transport(root, {
      intercept: (argv) => (argv[3] === 'kprov-write' ? { code: 1, stdout: Buffer.alloc(0), stderr: Buffer.from('cat: write error: No space left on device\n') } : undefined),
    });
    const err = await failure(writeRemote(t, conf(), { kind: 'buffer', data: small }, smallSha, { mode: 0o600 }, true));
    assert.equal(err.message, `writing ${conf()}: no space left on device`);
    assert.deepEqual(await readFile(conf()), Buffer.from('old\n'));
  });

  test('without differs, content is compared first and equal content is not sent', async () => {
    const t = transport(root);
    await writeRemote(t, conf(), { kind: 'buffer', data: small }, smallSha, { mode: 0o600 }, true);
    t.commands.length = 0;
    assert.equal(await writeRemote(t, conf(), { kind: 'buffer', data: small }, smallSha, { mode: 0o600 }), false);
    assert.equal(t.commands.length, 1);
    assert.ok(!t.commands[0]!.includes('kprov-write'), 'the state read, not the write');
  });

  test('bytes that are not what was promised are never sent', async () => {
    const t = transport(root);
    const err = await failure(writeRemote(t, conf(), { kind: 'buffer', data: small }, sha, { mode: 0o600 }, true));
    assert.match(err.message, /nothing was installed/);
    assert.equal(t.commands.length, 0);
  });
});
