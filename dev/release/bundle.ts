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
  await writeIfChanged(outFile, await bundleBytes(entry, kubeVersion));
}

/** esbuild's output for one entry with `kubeVersion` baked in. */
async function bundleBytes(entry: string, kubeVersion: string): Promise<Uint8Array> {
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
  return result.outputFiles[0]!.contents;
}

// Baked in instead of a version, then replaced: one esbuild run serves every patch version.
const VERSION_PLACEHOLDER = 'v1.13.KPROV_STANDIN_PATCH_PLACEHOLDER';

/** The bundle with `placeholder` (a string literal esbuild kept as it is) replaced by `version`. */
function withVersion(bundle: Uint8Array, version: string): Buffer {
  const text = Buffer.from(bundle).toString('utf8');
  if (!text.includes(VERSION_PLACEHOLDER)) throw new KprovError('internal', 'the stand-in bundle lost its version placeholder');
  return Buffer.from(text.split(VERSION_PLACEHOLDER).join(version), 'utf8');
}

/** The DNS stand-in (CoreDNS 1.2.6's contract) for the lab's coredns image: not part of the release tree. */
export function corednsEntry(root = repoRoot()): string {
  return path.join(root, 'dev', 'standin', 'coredns', 'main.ts');
}

/** Bundles the stand-ins into `{outDir}/{name}` and returns name → path. */
export async function bundleStandins(opts: BundleOptions): Promise<Record<StandinName, string>> {
  const [out] = await bundleStandinVersions({ versions: [{ outDir: opts.outDir, kubeVersion: opts.kubeVersion }], ...(opts.names ? { names: opts.names } : {}) });
  return out!;
}

/**
 * The stand-ins for several v1.13 patch versions (the lab serves two, for upgrades): esbuild runs
 * once per stand-in, and each version's file is the same bundle with only its version string
 * differing. Returns, per version in order, name → path.
 */
export async function bundleStandinVersions(opts: {
  versions: ReadonlyArray<{ outDir: string; kubeVersion: string }>;
  names?: readonly StandinName[];
}): Promise<Array<Record<StandinName, string>>> {
  for (const v of opts.versions) {
    if (!/^v1\.13\.\d+$/.test(v.kubeVersion)) throw new KprovError('usage', `stand-ins implement v1.13.N only, not ${v.kubeVersion}`);
    await mkdir(v.outDir, { recursive: true });
  }
  const root = repoRoot();
  const out = opts.versions.map(() => ({}) as Record<StandinName, string>);
  await Promise.all(
    (opts.names ?? standinNames).map(async (name) => {
      const bundle = await bundleBytes(standinEntry(name, root), VERSION_PLACEHOLDER);
      for (const [i, v] of opts.versions.entries()) {
        const file = path.join(v.outDir, name);
        await writeIfChanged(file, withVersion(bundle, v.kubeVersion));
        out[i]![name] = file;
      }
    }),
  );
  return out;
}
