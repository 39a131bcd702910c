/**
 * `kprov certs check [-i DIR] [--json]`: every certificate of the cluster's PKI with its subject,
 * names, issuer and expiry, warning under 30 days. `kprov certs renew [NAME…|--all] [-i DIR]`:
 * reissues leaf certificates from the same CA and keys; the next `kprov apply cluster` pushes
 * them and restarts the services that read them.
 */
import type { Command } from 'commander';
import { clusterPkiDir, clusterPkiInput } from '../cluster/pki.js';
import { KprovError } from '../errors.js';
import { loadInventory, locateInventory } from '../inventory/load.js';
import { checkCertificates, renewCertificates, RENEW_BEFORE_DAYS, type CertStatus, type PkiReport } from '../pki/index.js';
import { readIfExists } from '../pki/store.js';
import type { CliIO } from './io.js';
import { displayPath, resolveInventoryDir } from './resolve-inventory.js';

export interface CertsCheckOptions {
  inventory?: string;
  json?: boolean;
  /** The clock, for tests. */
  now?: Date;
}

export interface CertsRenewOptions {
  inventory?: string;
  all?: boolean;
  now?: Date;
}

/** Columns padded to their widest cell; numbers right-aligned. */
function table(rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number>): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) => r.map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd())
    .join('\n');
}

const sanList = (c: CertStatus) => [...c.sans.dns, ...c.sans.ip].join(',') || '-';
const day = (iso: string) => (iso === '' ? '-' : iso.slice(0, 10));

/** The PKI directory of the inventory `-i` (or the default) names; an error when there is none. */
async function pkiDirOf(option: string | undefined, io: CliIO): Promise<{ dir: string; inventoryDir: string }> {
  const { dir: inventoryDir } = await locateInventory(await resolveInventoryDir(option, io));
  const dir = clusterPkiDir(inventoryDir);
  if ((await readIfExists(`${dir}/ca.crt`)) === undefined) {
    throw new KprovError('pki', `${displayPath(inventoryDir, io.cwd)} has no cluster PKI yet (no ${displayPath(dir, io.cwd)}/ca.crt)`, {
      hint: `the cluster playbook creates it: kprov apply cluster -i ${displayPath(inventoryDir, io.cwd)}`,
    });
  }
  return { dir, inventoryDir };
}

export async function runCertsCheck(options: CertsCheckOptions, io: CliIO): Promise<CertStatus[]> {
  const { dir } = await pkiDirOf(options.inventory, io);
  const certs = await checkCertificates(dir, options.now ? { now: options.now } : {});
  if (options.json) {
    io.out(JSON.stringify(certs, null, 2));
    return certs;
  }
  const rows = [
    ['NAME', 'SUBJECT', 'SANS', 'ISSUER', 'EXPIRES', 'DAYS LEFT', 'WARNING'],
    ...certs.map((c) => [c.name, c.subject, sanList(c), c.issuer, day(c.notAfter), String(c.daysLeft), c.warning ?? '']),
  ];
  io.out(table(rows, new Set([5])));
  const warned = certs.filter((c) => c.warning !== undefined);
  io.out(`${certs.length} certificate(s) in ${displayPath(dir, io.cwd)}; ${warned.length} with warnings (renewal is due ${RENEW_BEFORE_DAYS} days before expiry)`);
  for (const c of warned) io.err(`warning: ${c.name}: ${c.warning}`);
  return certs;
}

export async function runCertsRenew(names: readonly string[], options: CertsRenewOptions, io: CliIO): Promise<PkiReport> {
  if (options.all && names.length > 0) throw new KprovError('usage', 'give certificate names or --all, not both');
  if (!options.all && names.length === 0) {
    throw new KprovError('usage', 'name the certificates to renew, or --all', { hint: 'the names are those `kprov certs check` lists (apiserver, etcd/server-node1, kubelet/node1-client …)' });
  }
  const { dir, inventoryDir } = await pkiDirOf(options.inventory, io);
  // The names the plan has now: a renewed certificate also picks up inventory changes.
  const input = clusterPkiInput(await loadInventory(inventoryDir));
  const report = await renewCertificates(dir, input, options.all ? 'all' : names, options.now ? { now: options.now } : {});
  const renewed = report.reissued.map((r) => r.name);
  const status = new Map((await checkCertificates(dir, options.now ? { now: options.now } : {})).map((c) => [c.name, c]));
  io.out(table([['RENEWED', 'EXPIRES', 'DAYS LEFT'], ...renewed.map((n) => [n, day(status.get(n)?.notAfter ?? ''), String(status.get(n)?.daysLeft ?? '')])], new Set([2])));
  for (const w of report.warnings) io.err(`warning: ${w}`);
  io.out(
    `${renewed.length} certificate(s) renewed from the same CA and keys in ${displayPath(dir, io.cwd)}. ` +
      `Run \`kprov apply cluster -i ${displayPath(inventoryDir, io.cwd)}\` to distribute them: it restarts only the services that read them.`,
  );
  return report;
}

export function registerCerts(program: Command, io: CliIO): void {
  const certs = program.command('certs').description("inspect and renew the cluster's certificates (<inventory>/pki)");
  certs
    .command('check')
    .description('list every certificate: subject, names, issuer, expiry; warn under 30 days')
    .option('-i, --inventory <dir>', 'inventory directory (default: $KPROV_INVENTORY, else the one under ./inventory)')
    .option('--json', 'print the result as JSON')
    .action(async (options: { inventory?: string; json?: boolean }) => {
      await runCertsCheck(options, io);
    });
  certs
    .command('renew')
    .description('reissue certificates from the same CA (then `kprov apply cluster` distributes them)')
    .argument('[names...]', 'certificates to renew, as `kprov certs check` names them')
    .option('--all', 'renew every leaf certificate (CAs and the service-account key are never renewed)')
    .option('-i, --inventory <dir>', 'inventory directory (default: $KPROV_INVENTORY, else the one under ./inventory)')
    .action(async (names: string[], options: { inventory?: string; all?: boolean }) => {
      await runCertsRenew(names, options, io);
    });
}
