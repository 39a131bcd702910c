/**
 * Runs every test: unit tests in parallel, then end-to-end tests (lab hosts, need root) with
 * limited concurrency so a 2-core machine is not oversubscribed.
 * Usage: node dist/test/run.js [SUBSTRING…]   (only test files whose path contains a substring)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const testRoot = path.dirname(fileURLToPath(import.meta.url));

function findTests(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out = out.concat(findTests(full));
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

const filters = process.argv.slice(2);
const selected = (files: string[]) =>
  filters.length === 0 ? files : files.filter((f) => filters.some((s) => f.includes(s)));

interface Suite {
  name: string;
  files: string[];
  concurrency: number;
}

const suites: Suite[] = [
  { name: 'unit', files: selected(findTests(path.join(testRoot, 'unit'))), concurrency: 2 },
  { name: 'e2e', files: selected(findTests(path.join(testRoot, 'e2e'))), concurrency: 2 },
];

/** Builds (or finds) the lab's cached base image once, before e2e files start in parallel. */
async function prepareLab(): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const started = Date.now();
  const { ensureBaseImage } = await import('../src/lab/base-image.js');
  const dir = await ensureBaseImage();
  console.log(`lab base image ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${dir}`);
}

let failed = false;
for (const suite of suites) {
  if (suite.files.length === 0) continue;
  if (suite.name === 'e2e') await prepareLab();
  console.log(`\n=== ${suite.name}: ${suite.files.length} file(s) ===`);
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    ['--test', `--test-concurrency=${suite.concurrency}`, '--test-reporter=spec', ...suite.files],
    { stdio: 'inherit' },
  );
  console.log(`=== ${suite.name}: ${result.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
