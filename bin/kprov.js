#!/usr/bin/env node
// Thin launcher: `npm run build` (run by `npm ci` via prepare) compiles the CLI to dist/src/ and
// bundles it into dist/cli/ (scripts/bundle-cli.ts), which starts faster than ~300 modules.
import { runInLabFirst } from '../dist/src/cli/enter-lab.js';

// A command on a lab inventory runs inside the lab's network namespace: entered before the CLI
// loads, so this process (which stays only to pass signals on) costs Node's start-up and no more.
const inLab = await runInLabFirst(process.argv.slice(2));
if (inLab !== undefined) {
  process.exitCode = inLab;
} else {
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(process.argv.slice(2));
  // An interrupted run may leave abandoned remote steps settling; they must not hold the exit.
  if (process.exitCode === 130) setTimeout(() => process.exit(130), 2000).unref();
}
