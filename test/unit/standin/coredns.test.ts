/** The DNS stand-in: Corefile parsing, DNS wire format, and the kubernetes plugin's answers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorefileError, parseCorefile, serverConfigs } from '../../../dev/standin/coredns/corefile.js';
import { CLASS_IN, decodeMessage, encodeMessage, encodeName, RCODE, readName, truncateForUdp, TYPE, type Message } from '../../../dev/standin/coredns/dns.js';
import { reply, type ClusterData } from '../../../dev/standin/coredns/resolver.js';
import { KUBESPRAY_COREFILE } from '../../support/kubespray-corefile.js';


test('Kubespray\'s Corefile parses into one server on :53 with the plugins it names', () => {
  const [s, ...rest] = serverConfigs(parseCorefile(KUBESPRAY_COREFILE));
  assert.equal(rest.length, 0);
  assert.deepEqual(s!.zones, ['.']);
  assert.equal(s!.port, 53);
  assert.deepEqual(s!.kubernetes, { zones: ['cluster.local.', 'in-addr.arpa.', 'ip6.arpa.'], pods: 'insecure', fallthrough: ['in-addr.arpa.', 'ip6.arpa.'], ttl: 5, upstream: ['/etc/resolv.conf'] });
  assert.equal(s!.health, ':8080');
  assert.equal(s!.prometheus, ':9153');
  assert.deepEqual(s!.forward, { from: '.', to: ['/etc/resolv.conf'] });
  assert.equal(s!.cache, 30);
  assert.ok(s!.loop && s!.reload && s!.loadbalance && s!.errors);
  // Comments, quoted words, several keys, dns:// and -dns.port's default.
  const two = serverConfigs(parseCorefile('# top\ndns://cluster.local, example.org {\n  whoami # ignored plugin\n  log\n}\na.b:1053 {\n  bind 127.0.0.1\n}\n'), 5353);
  assert.deepEqual(two.map((b) => [b.zones, b.port, b.bind]), [[['cluster.local.', 'example.org.'], 5353, []], [['a.b.'], 1053, ['127.0.0.1']]]);
});

test('a malformed Corefile or an unknown plugin fails with CoreDNS\'s message', () => {
  const err = (text: string) => {
    try {
      serverConfigs(parseCorefile(text));
    } catch (e) {
      assert.ok(e instanceof CorefileError, String(e));
      return e.message;
    }
    assert.fail(`accepted: ${text}`);
  };
  assert.equal(err('.:53 {\n  errors\n  bogus\n}\n'), "Corefile:3 - Error during parsing: Unknown directive 'bogus'");
  assert.equal(err('.:53 {\n  errors\n'), 'Corefile:2 - Error during parsing: Unexpected EOF');
  assert.match(err('.:53 {\n  kubernetes cluster.local {\n    pods sometimes\n  }\n}\n'), /^Corefile:3 - Error during parsing: plugin\/kubernetes: wrong value for pods: sometimes/);
  assert.match(err('.:53 {\n  cache 0\n}\n'), /^Corefile:2 - Error during parsing: plugin\/cache: cache TTL can not be zero or negative/);
  assert.match(err('.:53 {\n  proxy .\n}\n'), /^Corefile:2 - Error during parsing: Wrong argument count/);
  assert.match(err('.:53 {\n}\n.:53 {\n}\n'), /cannot serve \.:53 - it is already defined/);
  assert.match(err('.:abc {\n}\n'), /invalid port/);
  assert.match(err('}\n'), /Unexpected '}'/);
});

test('DNS messages: names with compression, a query decoded, an answer encoded and read back', () => {
  assert.deepEqual(encodeName('web.apps.svc.cluster.local.'), Buffer.from('\x03web\x04apps\x03svc\x07cluster\x05local\x00', 'latin1'));
  // A pointer to offset 12 (the question name), as resolvers write answers.
  const buf = Buffer.concat([Buffer.alloc(12), encodeName('a.example.'), Buffer.from([0x03, 0x77, 0x77, 0x77, 0xc0, 12])]);
  assert.deepEqual(readName(buf, 12 + 11), { name: 'www.a.example.', next: buf.length });
  assert.throws(() => readName(Buffer.from([0xc0, 0]), 0), /compression loop/);

  const query: Message = { id: 0x1234, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, rcode: 0, questions: [{ name: 'Web.Apps.svc.cluster.local.', type: TYPE.A, class: CLASS_IN }], answers: [], authority: [], additional: [] };
  const q = decodeMessage(encodeMessage(query));
  assert.equal(q.id, 0x1234);
  assert.equal(q.rd, true);
  assert.deepEqual(q.questions, [{ name: 'web.apps.svc.cluster.local.', type: TYPE.A, class: CLASS_IN }]);
  const ans = decodeMessage(encodeMessage({ ...q, qr: true, aa: true, answers: [{ name: q.questions[0]!.name, class: CLASS_IN, ttl: 5, data: { type: 'A', address: '10.233.0.50' } }, { name: 'x.', class: CLASS_IN, ttl: 5, data: { type: 'AAAA', address: 'fd00::1' } }, { name: 'x.', class: CLASS_IN, ttl: 5, data: { type: 'SRV', priority: 0, weight: 100, port: 80, target: 'web.apps.svc.cluster.local.' } }] }));
  assert.equal(ans.qr && ans.aa, true);
  assert.deepEqual(ans.answers.map((r) => r.data), [{ type: 'A', address: '10.233.0.50' }, { type: 'AAAA', address: 'fd00::1' }, { type: 'SRV', priority: 0, weight: 100, port: 80, target: 'web.apps.svc.cluster.local.' }]);
  const big = truncateForUdp({ ...ans, answers: new Array(40).fill(ans.answers[0]) });
  assert.equal(decodeMessage(big).tc, true);
});

const data: ClusterData = {
  services: new Map([
    ['default/kubernetes', { namespace: 'default', name: 'kubernetes', clusterIP: '10.233.0.1', type: 'ClusterIP', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] }],
    ['apps/web', { namespace: 'apps', name: 'web', clusterIP: '10.233.0.50', type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }],
    ['apps/db', { namespace: 'apps', name: 'db', clusterIP: 'None', type: 'ClusterIP', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }],
  ]),
  endpoints: new Map([['apps/db', { namespace: 'apps', name: 'db', addresses: [{ ip: '10.233.64.7', hostname: 'db-0' }, { ip: '10.233.65.3' }], ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }]]),
};

test('the kubernetes plugin\'s answers: services, headless, SRV, pods, PTR, NXDOMAIN with SOA, nothing forwarded', () => {
  const servers = serverConfigs(parseCorefile(KUBESPRAY_COREFILE));
  const ask = (name: string, type: number = TYPE.A) => reply(servers, data, { id: 7, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, rcode: 0, questions: [{ name, type, class: CLASS_IN }], answers: [], authority: [], additional: [] }, () => 0);
  const a = ask('web.apps.svc.cluster.local.');
  assert.equal(a.rcode, RCODE.NOERROR);
  assert.equal(a.aa, true);
  assert.deepEqual(a.answers.map((r) => [r.name, r.ttl, r.data]), [['web.apps.svc.cluster.local.', 5, { type: 'A', address: '10.233.0.50' }]]);
  assert.deepEqual(ask('kubernetes.default.svc.cluster.local.').answers.map((r) => r.data), [{ type: 'A', address: '10.233.0.1' }]);
  assert.deepEqual(ask('db.apps.svc.cluster.local.').answers.map((r) => r.data).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))), [{ type: 'A', address: '10.233.64.7' }, { type: 'A', address: '10.233.65.3' }]);
  assert.deepEqual(ask('db-0.db.apps.svc.cluster.local.').answers.map((r) => r.data), [{ type: 'A', address: '10.233.64.7' }]);
  assert.deepEqual(ask('_http._tcp.web.apps.svc.cluster.local.', TYPE.SRV).answers.map((r) => r.data), [{ type: 'SRV', priority: 0, weight: 100, port: 80, target: 'web.apps.svc.cluster.local.' }]);
  assert.deepEqual(ask('10-233-64-9.apps.pod.cluster.local.').answers.map((r) => r.data), [{ type: 'A', address: '10.233.64.9' }]);
  assert.deepEqual(ask('50.0.233.10.in-addr.arpa.', TYPE.PTR).answers.map((r) => r.data), [{ type: 'PTR', target: 'web.apps.svc.cluster.local.' }]);
  // Known name, other type: NOERROR, no answer, the SOA.
  const aaaa = ask('web.apps.svc.cluster.local.', TYPE.AAAA);
  assert.equal(aaaa.rcode, RCODE.NOERROR);
  assert.deepEqual(aaaa.answers, []);
  assert.equal(aaaa.authority[0]!.data.type, 'SOA');
  const nx = ask('nope.apps.svc.cluster.local.');
  assert.equal(nx.rcode, RCODE.NXDOMAIN);
  assert.deepEqual(nx.authority.map((r) => [r.name, r.data.type]), [['cluster.local.', 'SOA']]);
  assert.equal(ask('web.apps.svc.cluster.local.cluster.local.').rcode, RCODE.NXDOMAIN);
  // Outside the zone, and an unknown reverse address (fallthrough): proxy has nowhere to go.
  assert.equal(ask('example.com.').rcode, RCODE.SERVFAIL);
  assert.equal(ask('1.1.168.192.in-addr.arpa.', TYPE.PTR).rcode, RCODE.SERVFAIL);
  // A server for cluster.local only refuses other names.
  const only = serverConfigs(parseCorefile('cluster.local:53 {\n  kubernetes\n}\n'));
  assert.equal(reply(only, data, { ...ask('x.'), qr: false, questions: [{ name: 'example.com.', type: TYPE.A, class: CLASS_IN }] }).rcode, RCODE.REFUSED);
  assert.equal(reply(only, data, { ...ask('x.'), qr: false, questions: [{ name: 'web.apps.svc.cluster.local.', type: TYPE.A, class: CLASS_IN }] }).answers.length, 1);
});
