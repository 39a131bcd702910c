import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_HTTP_OPTIONS, downloadToFile } from '../../../src/artifacts/http.js';
import { parseNoProxy, proxyFor, proxyFromVars } from '../../../src/artifacts/proxy.js';
import { startFixtureServer } from '../../../dev/fixture-server.js';

/** A forwarding proxy on 127.0.0.1 that records what it was asked for (absolute-URI GETs and CONNECTs). */
async function startProxy(): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`GET ${req.url}`);
    const upstream = request(req.url!, { headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    upstream.end();
  });
  server.on('connect', (req, socket) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(':');
    const upstream = connect(Number(port), host!, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('no_proxy: exact names, domain suffixes and *', () => {
  const settings = { http: 'http://proxy.internal:3128', https: 'http://proxy.internal:3128', noProxy: parseNoProxy('localhost, .corp.example,10.0.0.5') };
  assert.equal(proxyFor(new URL('http://dl.example.test/x'), settings)?.host, 'proxy.internal:3128');
  assert.equal(proxyFor(new URL('https://mirror.corp.example/x'), settings), undefined);
  assert.equal(proxyFor(new URL('http://10.0.0.5/x'), settings), undefined);
  assert.equal(proxyFor(new URL('http://localhost:8080/x'), settings), undefined);
  assert.equal(proxyFor(new URL('http://x.test/'), { ...settings, noProxy: ['*'] }), undefined);
  assert.deepEqual(proxyFromVars({ https_proxy: 'http://p:1', no_proxy: 'a,b' }), { https: 'http://p:1', noProxy: ['a', 'b'] });
  assert.equal(proxyFromVars({}), undefined);
});

test('downloads go through http_proxy; https goes through a CONNECT tunnel with TLS to the origin; no_proxy goes direct', async (t) => {
  const files = await startFixtureServer(new Map([['/kubelet', Buffer.from('kubelet bytes')]]));
  const proxy = await startProxy();
  const dir = await mkdtemp(path.join(tmpdir(), 'kprov-proxy-'));
  t.after(async () => {
    await files.close();
    await proxy.close();
    await rm(dir, { recursive: true, force: true });
  });
  const options = { ...DEFAULT_HTTP_OPTIONS, attempts: 1, proxy: { http: proxy.url, https: proxy.url, noProxy: [] } };

  const through = path.join(dir, 'through');
  await downloadToFile(`${files.url}/kubelet`, through, options);
  assert.equal(await readFile(through, 'utf8'), 'kubelet bytes');
  assert.deepEqual(proxy.seen, [`GET ${files.url}/kubelet`]);

  // The fixture speaks plain HTTP, so TLS inside the tunnel fails: the tunnel was opened to the
  // origin, and the proxy never sees the request itself.
  const port = new URL(files.url).port;
  await assert.rejects(downloadToFile(`https://127.0.0.1:${port}/kubelet`, path.join(dir, 'tls'), options));
  assert.deepEqual(proxy.seen.slice(1), [`CONNECT 127.0.0.1:${port}`]);

  const direct = path.join(dir, 'direct');
  await downloadToFile(`${files.url}/kubelet`, direct, { ...options, proxy: { ...options.proxy, noProxy: ['127.0.0.1'] } });
  assert.equal(proxy.seen.length, 2, 'no_proxy: not through the proxy');
});
