/** Temporary directories that clean up after themselves. */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

/** A fresh directory, removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'kprov-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const madeForProcess: string[] = [];
// Each test file runs in its own process: its directories go when it ends.
process.on('exit', () => {
  for (const dir of madeForProcess) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory, removed when the test file's process exits (usable outside a test, e.g. at module level). */
export function processTempDir(prefix = 'kprov-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  madeForProcess.push(dir);
  return dir;
}
