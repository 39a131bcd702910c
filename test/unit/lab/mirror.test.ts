import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMirrorServer } from '../../../src/lab/mirror.js';

let server: http.Server;
let port: number;
let root: string;

/** A raw request (fetch would normalise away the paths these tests need to send). */
function request(method: string, urlPath: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  const base = await mkdtemp(path.join(tmpdir(), 'kprov-mirror-'));
  root = path.join(base, 'root');
  await mkdir(path.join(root, 'release/v1.13.5'), { recursive: true });
  await writeFile(path.join(root, 'release/v1.13.5/kubelet'), 'binary-bytes');
  await writeFile(path.join(root, 'space name.txt'), 'spaced');
  await writeFile(path.join(base, 'secret'), 'outside');
  await symlink(path.join(base, 'secret'), path.join(root, 'escape'));
  await symlink('release/v1.13.5/kubelet', path.join(root, 'inside-link'));
  server = createMirrorServer(root);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('GET serves a file with Content-Length', async () => {
  const r = await request('GET', '/release/v1.13.5/kubelet');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'binary-bytes');
  assert.equal(r.headers['content-length'], '12');
  assert.equal((await request('GET', '/space%20name.txt')).body, 'spaced');
});

test('HEAD answers the headers without a body', async () => {
  const r = await request('HEAD', '/release/v1.13.5/kubelet');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], '12');
  assert.equal(r.body, '');
});

test('missing files and directories are 404; other methods 405', async () => {
  assert.equal((await request('GET', '/release/v1.13.5/nope')).status, 404);
  assert.equal((await request('GET', '/release/')).status, 404);
  assert.equal((await request('GET', '/')).status, 404);
  const put = await request('PUT', '/release/v1.13.5/kubelet');
  assert.equal(put.status, 405);
  assert.equal(put.headers['allow'], 'GET, HEAD');
});

test('nothing outside the root is served, however the path is spelled', async () => {
  for (const p of ['/../secret', '/release/../../secret', '/%2e%2e/secret', '/release/%2e%2e%2f%2e%2e%2fsecret', '/escape', '/%00', '/a%5c..%5csecret', '/%zz']) {
    const r = await request('GET', p);
    assert.equal(r.status, 404, p);
    assert.doesNotMatch(r.body, /outside/);
  }
  assert.equal((await request('GET', '/inside-link')).body, 'binary-bytes');
});
