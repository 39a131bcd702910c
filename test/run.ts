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
 *
 * The last line printed is `N passed, N failed` over all suites (CI reads it). Under CI=true as
 * root every tool the tests need is installed, so a skipped integration or e2e test counts as failed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizeTap, type SkippedTest, type TapSummary } from './runner/tap-summary.js';

const testRoot = path.dirname(fileURLToPath(import.meta.url));

interface Suite {
  name: string;
  concurrency: number;
  /** A skip here means a missing tool or missing root, which CI must not hide. */
  skipsFailUnderCi: boolean;
}

const SUITES: readonly Suite[] = [
  { name: 'unit', concurrency: 2, skipsFailUnderCi: false },
  { name: 'integration', concurrency: 2, skipsFailUnderCi: true },
  { name: 'e2e', concurrency: 2, skipsFailUnderCi: true },
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

/** Builds (or finds) the lab's cached base image and registry program once, before e2e files start in parallel. */
async function prepareLab(): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const started = Date.now();
  const { ensureBaseImage } = await import('../src/lab/base-image.js');
  const { ensureRegistryBinary } = await import('../src/lab/registry-binary.js');
  const dir = await ensureBaseImage();
  const registry = await ensureRegistryBinary();
  console.log(`lab base image and registry ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${dir}, ${registry}`);
}

interface SuiteOutcome {
  passed: number;
  failed: number;
  ok: boolean;
}

/** Runs one suite: the spec report to the terminal, a TAP copy to `tapFile` for the totals and skips. */
function runSuite(suite: Suite, files: string[], tapFile: string, skipsFail: boolean): SuiteOutcome {
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    [
      '--test',
      `--test-concurrency=${suite.concurrency}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tapFile}`,
      ...files,
    ],
    { stdio: 'inherit' },
  );
  const summary: TapSummary = existsSync(tapFile)
    ? summarizeTap(readFileSync(tapFile, 'utf8'))
    : { pass: 0, fail: 0, cancelled: 0, skipped: [] };
  let failed = summary.fail + summary.cancelled;
  if (result.status !== 0 && failed === 0) {
    // node --test itself failed (crashed, killed): no test says so, the count must.
    console.log(`${suite.name}: node --test ended with ${result.status ?? result.signal} and reported no failing test`);
    failed = 1;
  }
  const failingSkips: SkippedTest[] = skipsFail ? summary.skipped : [];
  if (failingSkips.length > 0) {
    console.log(`\n${suite.name}: ${failingSkips.length} skipped test(s) count as failed under CI=true as root:`);
    for (const s of failingSkips) console.log(`  ﹣ ${s.name}: ${s.reason}`);
  }
  const ok = result.status === 0 && failingSkips.length === 0;
  console.log(`=== ${suite.name}: ${ok ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
  return { passed: summary.pass, failed: failed + failingSkips.length, ok };
}

const strictCi = process.env['CI'] === 'true' && process.getuid?.() === 0;
const reportDir = mkdtempSync(path.join(tmpdir(), 'kprov-test-report-'));
let passed = 0;
let failed = 0;
let ok = true;
try {
  for (const suite of SUITES) {
    const files = selectedFiles(suite);
    if (files.length === 0) continue;
    if (suite.name === 'e2e') {
      try {
        await prepareLab();
      } catch (err) {
        console.log(`\n=== e2e: FAILED: the lab base image could not be prepared ===\n${err instanceof Error ? err.message : String(err)}`);
        failed += 1;
        ok = false;
        continue;
      }
    }
    console.log(`\n=== ${suite.name}: ${files.length} file(s) ===`);
    const outcome = runSuite(suite, files, path.join(reportDir, `${suite.name}.tap`), strictCi && suite.skipsFailUnderCi);
    passed += outcome.passed;
    failed += outcome.failed;
    ok &&= outcome.ok;
  }
} finally {
  rmSync(reportDir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(ok ? 0 : 1);
