/**
 * A small stand-in for the pod part of the API server, for end-to-end tests of the kubelet's pods
 * before the kube-apiserver stand-in serves pods: one CommonJS script run by a lab host's own
 * Node (`node fake-pod-api.js CERT KEY CA KUBELET_CERT KUBELET_KEY NODE=IP…`). It answers the
 * kubelet's calls on :6443 with the cluster's apiserver certificate (client certificates
 * required): the Node registration and heartbeat (accepted, not kept), pods created, listed by
 * `spec.nodeName`, their status patched (a JSON merge of the body's `status`), and deleted
 * gracefully as v1.13 does (a pod bound to a node first gets deletionTimestamp, the kubelet's
 * gracePeriodSeconds=0 DELETE with a UID precondition removes it). The same routes answer
 * without authentication on http://127.0.0.1:18080 for the test, plus `GET /calls` (every call
 * the kubelets made: method, path, content type, body) and
 * `GET /api/v1/namespaces/NS/pods/NAME/log?container=C&…`, proxied to the pod's node at
 * :10250/containerLogs with the apiserver's kubelet client certificate.
 */
export const FAKE_POD_API_SCRIPT = String.raw`
const https = require('node:https');
const http = require('node:http');
const fs = require('node:fs');
const crypto = require('node:crypto');
const [cert, key, ca, kcert, kkey, ...nodeArgs] = process.argv.slice(2);
const nodes = Object.fromEntries(nodeArgs.map((a) => a.split('=')));
const pods = new Map();
const calls = [];
let rv = 1;
const now = () => new Date().toISOString().slice(0, 19) + 'Z';
const send = (res, code, obj) => { res.writeHead(code, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj)); };
const status = (res, code, reason, message) => send(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });
const merge = (target, patch) => {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) { if (v === null) delete out[k]; else out[k] = merge(out[k], v); }
  return out;
};
function handle(req, res, body, external) {
  const url = new URL(req.url, 'https://x');
  const p = url.pathname;
  if (external) calls.push({ method: req.method, path: req.url, contentType: req.headers['content-type'] || '', body: body ? JSON.parse(body) : undefined, at: Date.now() });
  let m;
  if (p === '/api/v1/namespaces/kube-system/endpoints') return send(res, 200, { kind: 'EndpointsList', apiVersion: 'v1', items: [] });
  if (p === '/api/v1/nodes' && req.method === 'POST') return send(res, 201, JSON.parse(body));
  if (/^\/api\/v1\/nodes\/[^/]+(\/status)?$/.test(p)) return send(res, 200, {});
  if (p === '/calls') return send(res, 200, calls);
  if (p === '/api/v1/pods' && req.method === 'GET') {
    const sel = url.searchParams.get('fieldSelector') || '';
    const node = sel.startsWith('spec.nodeName=') ? sel.slice('spec.nodeName='.length) : undefined;
    const items = [...pods.values()].filter((o) => node === undefined || o.spec.nodeName === node);
    return send(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items });
  }
  if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(p)) && req.method === 'POST') {
    const obj = JSON.parse(body);
    const k = m[1] + '/' + obj.metadata.name;
    if (pods.has(k)) return status(res, 409, 'AlreadyExists', 'pods "' + obj.metadata.name + '" already exists');
    obj.apiVersion = 'v1'; obj.kind = 'Pod';
    obj.metadata = { ...obj.metadata, namespace: m[1], uid: crypto.randomUUID(), resourceVersion: String(++rv), creationTimestamp: now() };
    obj.spec = { restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', ...obj.spec };
    obj.spec.containers = obj.spec.containers.map((c) => ({ imagePullPolicy: 'IfNotPresent', ...c }));
    obj.status = { phase: 'Pending' };
    pods.set(k, obj);
    return send(res, 201, obj);
  }
  if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)(\/status|\/log)?$/.exec(p))) {
    const k = m[1] + '/' + m[2];
    const obj = pods.get(k);
    if (!obj) return status(res, 404, 'NotFound', 'pods "' + m[2] + '" not found');
    if (m[3] === '/log') {
      const q = new URLSearchParams(url.searchParams);
      const container = q.get('container') || obj.spec.containers[0].name;
      q.delete('container');
      const r = https.request({ host: nodes[obj.spec.nodeName], port: 10250, path: '/containerLogs/' + m[1] + '/' + m[2] + '/' + container + '?' + q, cert: fs.readFileSync(kcert), key: fs.readFileSync(kkey), rejectUnauthorized: false }, (kr) => { res.writeHead(kr.statusCode, kr.headers); kr.pipe(res); });
      r.on('error', (e) => status(res, 500, 'InternalError', e.message));
      return r.end();
    }
    if (req.method === 'GET') return send(res, 200, obj);
    if (m[3] === '/status' && req.method === 'PATCH') {
      obj.status = merge(obj.status, JSON.parse(body).status);
      obj.metadata.resourceVersion = String(++rv);
      return send(res, 200, obj);
    }
    if (!m[3] && req.method === 'DELETE') {
      const opts = body ? JSON.parse(body) : {};
      if (opts.preconditions && opts.preconditions.uid && opts.preconditions.uid !== obj.metadata.uid) return status(res, 409, 'Conflict', 'Precondition failed: UID in precondition: ' + opts.preconditions.uid + ', UID in object meta: ' + obj.metadata.uid);
      const grace = opts.gracePeriodSeconds !== undefined ? opts.gracePeriodSeconds : obj.spec.terminationGracePeriodSeconds;
      if (grace === 0 || !obj.spec.nodeName) { pods.delete(k); return send(res, 200, obj); }
      obj.metadata.deletionTimestamp = obj.metadata.deletionTimestamp || new Date(Date.now() + grace * 1000).toISOString().slice(0, 19) + 'Z';
      obj.metadata.deletionGracePeriodSeconds = grace;
      obj.metadata.resourceVersion = String(++rv);
      return send(res, 200, obj);
    }
  }
  return status(res, 404, 'NotFound', 'the server could not find the requested resource');
}
const serve = (external) => (req, res) => { let b = ''; req.on('data', (c) => (b += c)); req.on('end', () => { try { handle(req, res, b, external); } catch (e) { status(res, 500, 'InternalError', String(e)); } }); };
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), ca: fs.readFileSync(ca), requestCert: true, rejectUnauthorized: true }, serve(true)).listen(6443);
http.createServer(serve(false)).listen(18080, '127.0.0.1');
`;
