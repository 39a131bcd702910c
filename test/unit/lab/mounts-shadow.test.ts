import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountPoints } from '../../../src/lab/mounts.js';
import { setShadowPasswords } from '../../../src/lab/host-root.js';

test('mountinfo mount points are unescaped', () => {
  const info = [
    '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '47 27 0:39 / /var/lib/kprov-lab/labs/my\\040lab/root rw,relatime - overlay overlay rw,lowerdir=/x',
    '',
  ].join('\n');
  assert.deepEqual(parseMountPoints(info), ['/', '/var/lib/kprov-lab/labs/my lab/root']);
});

test('shadow password fields of the named users are replaced, nothing else', () => {
  const shadow = 'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nkprov:!:19000:0:99999:7:::\n';
  const out = setShadowPasswords(shadow, ['root', 'kprov'], '$6$salt$hash');
  assert.equal(out, 'root:$6$salt$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nkprov:$6$salt$hash:19000:0:99999:7:::\n');
  assert.throws(() => setShadowPasswords(shadow, ['nobody'], 'x'), /no shadow entry for nobody/);
});
