import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeTap } from '../../runner/tap-summary.js';

// As `node --test --test-reporter=tap` writes it (Node 20), trimmed of timing blocks.
const TAP = `TAP version 13
# Subtest: plain
ok 1 - plain
# Subtest: needs openssl
ok 2 - needs openssl # SKIP needs openssl on PATH (Debian: apt-get install openssl)
# Subtest: not yet
not ok 3 - not yet # TODO being done elsewhere
# Subtest: group
    # Subtest: inner \\# 1
    ok 1 - inner \\# 1 # SKIP
    # Subtest: inner ok
    ok 2 - inner ok
    1..2
ok 4 - group
# pass 3
# Subtest: skipped suite
ok 5 - skipped suite # SKIP lab tests need root
1..5
# tests 6
# suites 2
# pass 3
# fail 1
# cancelled 2
# skipped 2
# todo 1
`;

test('totals come from the closing summary; skips are named with their parents and reasons', () => {
  assert.deepEqual(summarizeTap(TAP), {
    pass: 3,
    fail: 1,
    cancelled: 2,
    skipped: [
      { name: 'needs openssl', reason: 'needs openssl on PATH (Debian: apt-get install openssl)' },
      { name: 'group > inner # 1', reason: 'no reason given' },
      { name: 'skipped suite', reason: 'lab tests need root' },
    ],
  });
});

test('an empty or truncated report counts nothing', () => {
  assert.deepEqual(summarizeTap(''), { pass: 0, fail: 0, cancelled: 0, skipped: [] });
  assert.deepEqual(summarizeTap('TAP version 13\n# Subtest: a\n'), { pass: 0, fail: 0, cancelled: 0, skipped: [] });
});
