import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { labScript } from '../../../src/lab/paths.js';

async function banner(text: string): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => s.end(text));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Runs the probe script on loopback; returns its exit code and parsed lines. */
function runProbe(args: string[], stdinLines: string[] = [], closeAfterMs = 0): Promise<{ code: number; results: { target: string; ok: boolean; error?: string }[] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [labScript('probe'), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => resolve({ code: code ?? 1, results: out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { target: string; ok: boolean }) }));
    setTimeout(() => {
      for (const l of stdinLines) child.stdin.write(`${l}\n`);
      child.stdin.end();
    }, closeAfterMs);
  });
}

test('the probe reports a service whose banner matches', async () => {
  const ssh = await banner('SSH-2.0-test\r\n');
  try {
    const r = await runProbe(['--timeout-ms=5000', '--banner=SSH-', `127.0.0.1:${ssh.port}`]);
    assert.equal(r.code, 0);
    assert.equal(r.results[0]?.ok, true);
  } finally {
    ssh.server.close();
  }
});

test('a wrong banner or a closed port fails once the time is up', async () => {
  const http = await banner('HTTP/1.1 400 Bad\r\n\r\n');
  const closed = await banner('');
  const closedPort = closed.port;
  closed.server.close();
  try {
    const started = Date.now();
    const r = await runProbe(['--timeout-ms=600', '--banner=SSH-', `127.0.0.1:${http.port}`, `127.0.0.1:${closedPort}`]);
    assert.equal(r.code, 1);
    assert.ok(Date.now() - started < 5000, 'bounded by its timeout');
    assert.deepEqual(r.results.map((x) => x.ok), [false, false]);
    assert.match(r.results.find((x) => x.target.endsWith(`:${http.port}`))?.error ?? '', /unexpected banner/);
  } finally {
    http.server.close();
  }
});

test('targets can be added on stdin while the probe runs', async () => {
  const a = await banner('SSH-2.0-a\r\n');
  const b = await banner('SSH-2.0-b\r\n');
  try {
    const r = await runProbe(['--timeout-ms=5000', '--banner=SSH-', '--stdin', `127.0.0.1:${a.port}`], [`127.0.0.1:${b.port}`], 200);
    assert.equal(r.code, 0);
    assert.deepEqual(r.results.map((x) => x.target).sort(), [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`].sort());
  } finally {
    a.server.close();
    b.server.close();
  }
});

test('bad arguments exit 2', async () => {
  const r = await runProbe(['--timeout-ms=abc', 'not-an-address']);
  assert.equal(r.code, 2);
});
