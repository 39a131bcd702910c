import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipaddr, ipwrap } from '../../../src/inventory/ipaddr.js';

const chain = (value: unknown, ...queries: unknown[]) => queries.reduce((v, q) => ipaddr(v, q), value);

test("Kubespray v2.9's idiom: kube_service_addresses|ipaddr('net')|ipaddr(N)|ipaddr('address')", () => {
  assert.equal(chain('10.233.0.0/18', 'net', 3, 'address'), '10.233.0.3');
  assert.equal(chain('10.233.0.0/18', 'net', 1, 'address'), '10.233.0.1');
  assert.equal(chain('10.96.0.0/12', 'net', 10, 'address'), '10.96.0.10');
  assert.equal(chain('172.28.128.0/24', 'net', 3, 'address'), '172.28.128.3');
  assert.equal(chain('fd85:ee78:d8a6:8607::1000/116', 'net', 1, 'address'), 'fd85:ee78:d8a6:8607::1001');
  // A value that is not a network address yields False at 'net', and the chain stays False.
  assert.equal(chain('10.233.0.5/18', 'net', 3, 'address'), false);
});

test('queries on networks and addresses follow netaddr', () => {
  const cases: [unknown, unknown, unknown][] = [
    ['10.233.0.0/18', '', '10.233.0.0/18'],
    ['10.0.0.1', '', '10.0.0.1'],
    ['not an ip', '', false],
    ['10.233.0.0/18', 'net', '10.233.0.0/18'],
    ['10.233.0.3/18', 'net', null],
    ['10.233.0.0/18', 'address', null],
    ['10.233.0.3/18', 'address', '10.233.0.3'],
    ['10.0.0.1', 'address', '10.0.0.1'],
    ['10.0.0.0/31', 'address', '10.0.0.0'],
    ['10.233.0.3/18', 'network', '10.233.0.0'],
    ['10.233.0.3/18', 'prefix', 18],
    ['10.233.0.3/18', 'netmask', '255.255.192.0'],
    ['10.233.0.3/18', 'host', '10.233.0.3/18'],
    ['10.233.0.0/18', 'host', null],
    ['10.0.0.1', 'host', '10.0.0.1/32'],
    ['10.233.0.3/18', 'broadcast', '10.233.63.255'],
    ['10.233.0.3/18', 'cidr', '10.233.0.0/18'],
    ['10.233.0.3/18', 'size', 16384],
    ['10.233.0.0/18', 'first_usable', '10.233.0.1'],
    ['10.233.0.0/18', 'last_usable', '10.233.63.254'],
    ['10.233.0.0/24', -1, '10.233.0.255/24'],
    ['10.233.0.0/24', 256, false],
    ['10.233.0.0/24', '5', '10.233.0.5/24'],
    ['10.0.0.1', 7, '10.0.0.1'],
    ['10.0.0.1/255.255.255.0', 'prefix', 24],
    ['10.0.0.1', 'version', 4],
    ['fd00::1', 'version', 6],
    ['10.0.0.1', 'private', '10.0.0.1'],
    ['8.8.8.8', 'private', null],
    ['8.8.8.8', 'public', '8.8.8.8'],
    [167772161, '', '10.0.0.1'],
    ['10.0.0.5', '10.0.0.0/24', '10.0.0.5'],
    ['10.0.1.5', '10.0.0.0/24', false],
    [['10.0.0.1', 'x', '192.168.0.0/16'], 'address', ['10.0.0.1']],
    [true, '', false],
    ['', '', false],
  ];
  for (const [value, query, expected] of cases) {
    assert.deepEqual(ipaddr(value, query), expected, `${JSON.stringify(value)} | ipaddr(${JSON.stringify(query)})`);
  }
});

test('ipv4/ipv6 keep only their family; unknown queries are errors', () => {
  assert.equal(ipaddr('fd00::1', '', 4, 'ipv4'), false);
  assert.equal(ipaddr('10.0.0.1', '', 4, 'ipv4'), '10.0.0.1');
  assert.equal(ipaddr('10.0.0.1', '', 6, 'ipv6'), false);
  assert.throws(() => ipaddr('10.0.0.1', 'nett'), /ipaddr: unknown filter type: nett/);
});

test('ipwrap brackets IPv6 addresses only', () => {
  assert.equal(ipwrap('fd00::1'), '[fd00::1]');
  assert.equal(ipwrap('fd00::1/64'), '[fd00::1]/64');
  assert.equal(ipwrap('10.0.0.1'), '10.0.0.1');
  assert.equal(ipwrap('host.example'), 'host.example');
  assert.deepEqual(ipwrap(['fd00::1', '10.0.0.1', 'name']), ['[fd00::1]', '10.0.0.1', 'name']);
});
