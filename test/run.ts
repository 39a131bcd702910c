/**
 * Runs every test, one suite after the other, each with limited concurrency so a 2-core machine is
 * not oversubscribed: unit (no root, nothing beyond a Debian base system), integration (real
 * openssl, ssh-keygen, etcd, kubectl, curl on loopback), then end-to-end (lab hosts, need root).
 *
 *   node dist/test/run.js [FILTER…]
 *
 * A filter that names a suite (unit, integration, e2e) selects that suite; any other filter selects
 * test files whose path below test/ contains it (`pki/etcd`, `e2e/standin`). Both kinds together:
 * the matching files of those suites.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const testRoot = path.dirname(fileURLToPath(import.meta.url));

interface Suite {
  name: string;
  concurrency: number;
}

const SUITES: readonly Suite[] = [
  { name: 'unit', concurrency: 2 },
  { name: 'integration', concurrency: 2 },
  { name: 'e2e', concurrency: 2 },
];

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
const suiteFilters = filters.filter((f) => SUITES.some((s) => s.name === f));
// `test/unit/x.test.ts` and `dist/test/unit/x.test.js` mean the same file.
const pathFilters = filters
  .filter((f) => !suiteFilters.includes(f))
  .map((f) => f.replace(/^(\.\/)?(dist\/)?test\//, '').replace(/\.ts$/, '.js'));

function selectedFiles(suite: Suite): string[] {
  if (suiteFilters.length > 0 && !suiteFilters.includes(suite.name)) return [];
  const files = findTests(path.join(testRoot, suite.name));
  if (pathFilters.length === 0) return files;
  return files.filter((f) => pathFilters.some((p) => path.relative(testRoot, f).includes(p)));
}

/** Builds (or finds) the lab's cached base image once, before e2e files start in parallel. */
async function prepareLab(): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const started = Date.now();
  const { ensureBaseImage } = await import('../src/lab/base-image.js');
  const dir = await ensureBaseImage();
  console.log(`lab base image ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${dir}`);
}

let failed = false;
for (const suite of SUITES) {
  const files = selectedFiles(suite);
  if (files.length === 0) continue;
  if (suite.name === 'e2e') await prepareLab();
  console.log(`\n=== ${suite.name}: ${files.length} file(s) ===`);
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    ['--test', `--test-concurrency=${suite.concurrency}`, '--test-reporter=spec', ...files],
    { stdio: 'inherit' },
  );
  console.log(`=== ${suite.name}: ${result.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
