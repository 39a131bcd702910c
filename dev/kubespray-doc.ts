/**
 * The variables part of docs/kubespray.md, rendered from the tables the loader uses, so the page
 * cannot drift from what kprov does (test/unit/inventory/kubespray-doc.test.ts compares them).
 * `node dist/dev/kubespray-doc.js --write` rewrites the page's generated section.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { kubesprayVariableRows } from '../src/inventory/kubespray-variables.js';
import { hostVarsSchema } from '../src/inventory/schema.js';
import { packageRoot } from '../src/paths.js';

export const DOC_PATH = path.join(packageRoot, 'docs', 'kubespray.md');
const BEGIN = '<!-- generated: variables (node dist/dev/kubespray-doc.js --write) -->';
const END = '<!-- end of generated variables -->';

/** kprov's own variables, which Kubespray does not have. */
const KPROV_ONLY = new Set(['pki_key_algorithm', 'preflight_min_memory_mb_control_plane', 'preflight_min_memory_mb_node', 'kprov_lab', 'ssh_key_type', 'image_arch']);

export function renderVariables(): string {
  const implemented = Object.keys(hostVarsSchema.shape).filter((k) => !KPROV_ONLY.has(k) && !/_(?:download_url|checksum)$/.test(k));
  const lines = [
    BEGIN,
    '',
    '### Implemented: kprov reads these as Kubespray does',
    '',
    implemented.map((k) => `\`${k}\``).join(', ') + ', and every `<artifact>_download_url` / `<artifact>_checksum`.',
    '',
    '### Not implemented',
    '',
    '| variables | kprov | what kprov does instead |',
    '|---|---|---|',
    ...kubesprayVariableRows().map((r) => `| ${r.names.replace(/\|/g, '\\|')} | ${r.status === 'differs' ? 'warns: your cluster will differ' : 'no effect, no warning'} | ${r.instead} |`),
    '',
    END,
  ];
  return lines.join('\n');
}

/** The page with its generated section replaced by `section`. */
export function withSection(page: string, section: string): string {
  const start = page.indexOf(BEGIN);
  const end = page.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${DOC_PATH} has no generated section (${BEGIN} … ${END})`);
  return page.slice(0, start) + section + page.slice(end + END.length);
}

if (process.argv.includes('--write')) {
  const page = await readFile(DOC_PATH, 'utf8');
  await writeFile(DOC_PATH, withSection(page, renderVariables()));
}
