/**
 * 20 hosts boot at once (each host's systemd needs inotify instances and a cgroup of its own;
 * without either, hosts die or units fail at random past ~15 hosts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason } from '../support/lab.js';
import { startLab } from '../../dev/lab-hosts.js';

const HOSTS = 20;

test(`${HOSTS} hosts boot, each running systemd with sshd`, { skip: labSkipReason(), timeout: 240_000 }, async () => {
  const lab = await startLab({ name: 'e2e-scale', hosts: HOSTS });
  try {
    assert.equal(lab.addresses.length, HOSTS);
    assert.equal(lab.addresses[HOSTS - 1], '10.213.0.30');
    // lab up already waited for every sshd banner and for systemd `running`; check again from outside.
    const states = await Promise.all(lab.hosts.map((h) => lab.exec(h.name, ['systemctl', 'is-system-running'])));
    assert.deepEqual(states.map((s) => s.stdout.trim()), Array(HOSTS).fill('running'));
    const banners = await lab.inLab([
      process.execPath,
      '-e',
      `const net=require('net');Promise.all(${JSON.stringify(lab.addresses)}.map(a=>new Promise(r=>{const s=net.connect(22,a);s.setTimeout(5000,()=>{s.destroy();r('timeout')});s.once('data',d=>{s.destroy();r(d.toString().slice(0,4))});s.on('error',e=>r(e.message))}))).then(x=>console.log(x.join(',')))`,
    ]);
    assert.equal(banners.stdout.trim(), Array(HOSTS).fill('SSH-').join(','));
  } finally {
    await lab.stop();
  }
});
