#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm ci` via prepare).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
// An interrupted run may leave abandoned remote steps settling; they must not hold the exit.
if (process.exitCode === 130) setTimeout(() => process.exit(130), 2000).unref();
