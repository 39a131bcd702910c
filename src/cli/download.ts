/**
 * `kprov download [-i DIR] [--insecure-skip-checksum] [--json]`: fills the local artifact cache with
 * everything the inventory's hosts need (air-gapped preparation) and prints what is there.
 */
import type { Command } from 'commander';
import { defaultCacheDir } from '../artifacts/cache.js';
import { downloadArtifacts, label, type ArtifactEvent, type CachedArtifact } from '../artifacts/download.js';
import { planArtifacts, type ArtifactHost, type PlannedArtifact } from '../artifacts/needs.js';
import { proxyFromVars } from '../artifacts/proxy.js';
import { formatError, KprovError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import type { CliIO } from './io.js';
import { runInLabIfNeeded } from './lab-reexec.js';
import { setExitCode } from './exit-code.js';
import { displayPath, resolveInventoryDir } from './resolve-inventory.js';

export interface DownloadCommandOptions {
  inventory?: string;
  insecureSkipChecksum?: boolean;
  /** Kubespray settings kprov does not implement, and unknown variables, are errors. */
  strict?: boolean;
  json?: boolean;
}

/** How the command reads the inventory (injected by tests): hosts with groups and variables. */
export interface InventorySource {
  resolveDir(option: string | undefined, io: CliIO): Promise<string>;
  loadHosts(dir: string, io: CliIO, strict: boolean): Promise<ArtifactHost[]>;
}

export interface DownloadReport {
  cacheDir: string;
  artifacts: {
    id: string;
    version: string;
    arch: string;
    url: string;
    sha256: string;
    bytes: number;
    status: 'cached' | 'downloaded';
    verification: string;
    hosts: string[];
    files: { installPath: string; mode: string; sha256: string; bytes: number }[];
  }[];
  warnings: string[];
}

function report(cacheDir: string, planned: readonly PlannedArtifact[], results: readonly CachedArtifact[]): DownloadReport {
  return {
    cacheDir,
    artifacts: results.map((r, i) => ({
      id: r.artifact.id,
      version: r.artifact.version,
      arch: r.artifact.arch,
      url: r.artifact.url,
      sha256: r.sha256,
      bytes: r.size,
      status: r.status,
      verification: r.verification,
      hosts: planned[i]!.hosts,
      files: r.files.map((f) => ({
        installPath: f.installPath,
        mode: f.mode.toString(8).padStart(4, '0'),
        sha256: f.sha256,
        bytes: f.size,
      })),
    })),
    warnings: results.flatMap((r) => r.warnings),
  };
}

/** Columns padded to their widest cell; numbers right-aligned. */
function table(rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number>): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) => r.map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd())
    .join('\n');
}

function progress(io: CliIO): (e: ArtifactEvent) => void {
  return (e) => {
    if (e.type === 'download') io.err(`downloading ${label(e.artifact)} from ${e.url}`);
    else if (e.type === 'retry') {
      io.err(`  retrying ${e.info.url} in ${e.info.delayMs} ms after try ${e.info.attempt}: ${e.info.reason}`);
    }
  };
}

export async function runDownload(options: DownloadCommandOptions, io: CliIO, source: InventorySource): Promise<DownloadReport> {
  const dir = await source.resolveDir(options.inventory, io);
  const hosts = await source.loadHosts(dir, io, options.strict === true);
  const planned = planArtifacts(hosts, { insecureSkipChecksum: options.insecureSkipChecksum ?? false });
  if (planned.length === 0) {
    throw new KprovError('inventory', `no host in ${dir} needs any artifact`, {
      hint: 'hosts need to be in kube_control_plane, kube_node (k8s_cluster) or etcd',
    });
  }
  const cacheDir = defaultCacheDir(io.env);
  // One cluster, one proxy: the hosts agree on cluster-wide variables.
  const proxy = proxyFromVars(hosts[0]!.vars);
  const failures: KprovError[] = [];
  const show = options.json ? () => undefined : progress(io);
  let results: CachedArtifact[];
  try {
    results = await downloadArtifacts(
      planned.map((p) => p.artifact),
      {
        cacheDir,
        ...(proxy ? { http: { proxy } } : {}),
        onEvent: (e) => {
          if (e.type === 'failed') failures.push(e.error);
          show(e);
        },
      },
    );
  } catch (err) {
    // Every failure is worth seeing; the first one is the command's error.
    for (const f of failures.slice(1)) io.err(formatError(f));
    throw failures[0] ?? err;
  }
  const out = report(cacheDir, planned, results);
  if (options.json) {
    io.out(JSON.stringify(out, null, 2));
    return out;
  }
  for (const w of out.warnings) io.err(`warning: ${w}`);
  const rows = [
    ['ARTIFACT', 'VERSION', 'ARCH', 'SHA256', 'STATUS', 'BYTES', 'HOSTS'],
    ...out.artifacts.map((a) => [a.id, a.version, a.arch, a.sha256.slice(0, 16), a.status, String(a.bytes), String(a.hosts.length)]),
  ];
  io.out(table(rows, new Set([5, 6])));
  const downloaded = out.artifacts.filter((a) => a.status === 'downloaded');
  const bytes = downloaded.reduce((n, a) => n + a.bytes, 0);
  io.out(
    `${out.artifacts.length} artifact(s): ${downloaded.length} downloaded (${bytes} bytes), ${out.artifacts.length - downloaded.length} cached; cache: ${cacheDir}`,
  );
  return out;
}

export function registerDownload(program: Command, io: CliIO, source: InventorySource = inventorySource): void {
  program
    .command('download')
    .description('fill the local artifact cache with every binary the inventory needs (for air-gapped runs)')
    .option('-i, --inventory <dir>', 'inventory directory (default: $KPROV_INVENTORY, else the one under ./inventory)')
    .option('--insecure-skip-checksum', 'do not verify checksums (warns for every artifact)')
    .option('--strict', 'Kubespray settings kprov does not implement, and unknown variables, are errors')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      [
        '',
        'The cache is $XDG_CACHE_HOME/kprov (default ~/.cache/kprov). URLs follow files_repo and',
        '<name>_download_url; checksums come from <name>_checksum or the files published next to each',
        'artifact. See docs/artifacts.md.',
      ].join('\n'),
    )
    .action(async (options: DownloadCommandOptions, cmd: Command) => {
      // A lab's mirror listens only inside the lab's network namespace: download from there.
      const dir = await source.resolveDir(options.inventory, io);
      const flags = [options.insecureSkipChecksum ? '--insecure-skip-checksum' : [], options.strict ? '--strict' : [], options.json ? '--json' : []].flat();
      const elsewhere = await runInLabIfNeeded(dir, ['download', '-i', dir, ...flags]);
      if (elsewhere !== undefined) return setExitCode(cmd, elsewhere);
      await runDownload(options, io, source);
    });
}

/** The real inventory: each host's groups and kprov variables (defaults included). */
const inventorySource: InventorySource = {
  resolveDir: resolveInventoryDir,
  loadHosts: async (dir, io, strict) => {
    const inv = await loadInventory(dir, { strict });
    if (inv.warnings.length > 0) {
      const n = inv.warnings.length;
      io.err(`${n} inventory warning${n === 1 ? '' : 's'}; see them with: kprov inventory check -i ${displayPath(inv.dir, io.cwd)}`);
    }
    return inv.hosts.map((h) => ({ name: h.name, groups: h.groups, vars: inv.hostVars(h.name) }));
  },
};
