/**
 * Bundles each stand-in into ONE self-contained CommonJS file for Debian bookworm's Node 18 (no
 * node_modules on lab hosts): esbuild inlines zod and yaml, bakes the Kubernetes version in with
 * `define`, adds the shebang; the file is written 0755, and only when its bytes change.
 */
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KprovError } from '../../src/errors.js';

export const standinNames = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy'] as const;
export type StandinName = (typeof standinNames)[number];

/** The repository root (where package.json is), found from this module whether run from src or dist. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'dev', 'standin'))) return dir;
    dir = path.dirname(dir);
  }
  throw new KprovError('internal', 'cannot find the kprov repository root above the release bundler');
}

export function standinEntry(name: StandinName, root = repoRoot()): string {
  return path.join(root, 'dev', 'standin', name, 'main.ts');
}

/** Writes `data` to `file` atomically unless it already holds exactly that. */
async function writeIfChanged(file: string, data: Uint8Array): Promise<void> {
  try {
    if (Buffer.compare(await readFile(file), data) === 0) return;
  } catch {
    // Not there yet.
  }
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode: 0o755 });
  await chmod(tmp, 0o755);
  await rename(tmp, file);
}

export interface BundleOptions {
  outDir: string;
  /** `v1.13.N`, baked into `--version` and /version. */
  kubeVersion: string;
  names?: readonly StandinName[];
}

/** Bundles one entry into one self-contained executable file (esbuild; node18, CommonJS, shebang). */
export async function bundleFile(entry: string, outFile: string, kubeVersion: string): Promise<void> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    write: false,
    minify: false,
    legalComments: 'none',
    banner: { js: '#!/usr/bin/env node' },
    define: { KPROV_STANDIN_KUBE_VERSION: JSON.stringify(kubeVersion) },
    logLevel: 'silent',
    absWorkingDir: repoRoot(),
  });
  await writeIfChanged(outFile, result.outputFiles[0]!.contents);
}

/** The DNS stand-in (CoreDNS 1.2.6's contract) for the lab's coredns image: not part of the release tree. */
export function corednsEntry(root = repoRoot()): string {
  return path.join(root, 'dev', 'standin', 'coredns', 'main.ts');
}

/** Bundles the stand-ins into `{outDir}/{name}` and returns name → path. */
export async function bundleStandins(opts: BundleOptions): Promise<Record<StandinName, string>> {
  if (!/^v1\.13\.\d+$/.test(opts.kubeVersion)) throw new KprovError('usage', `stand-ins implement v1.13.N only, not ${opts.kubeVersion}`);
  const root = repoRoot();
  await mkdir(opts.outDir, { recursive: true });
  const out = {} as Record<StandinName, string>;
  await Promise.all(
    (opts.names ?? standinNames).map(async (name) => {
      const file = path.join(opts.outDir, name);
      await bundleFile(standinEntry(name, root), file, opts.kubeVersion);
      out[name] = file;
    }),
  );
  return out;
}
