/**
 * Who may import whom (docs/design.md, "Layout and who may import whom"): every relative import in
 * the TypeScript sources is checked against RULES, and a broken rule names file, line and import.
 * npm packages are not checked here; package.json decides what the product depends on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { relativeImports, type RepoImport } from '../support/repo-imports.js';

interface ImportRule {
  /** Files under this folder (relative to the repository root)… */
  from: string;
  /** …import nothing under these folders, or nothing outside these. */
  mayNotImport: readonly string[] | { anythingBut: readonly string[] };
  /** Only the files whose path matches (default: every file under `from`). */
  files?: RegExp;
  /** Imports the rule lets through. */
  except?: RegExp;
  why: string;
  /** While the tree still breaks the rule: reported by node:test, not failing the run. */
  todo?: string;
}

const ENGINE_WHY = 'the engine runs any playbook; roles, cluster topology, the lab and the CLI plug into it';
const SSH_WHY = 'the SSH layer moves commands and files; it knows nothing of what runs over it';
/**
 * A `variables.ts` declares the variables its folder reads (schema, default, scope); the inventory
 * assembles them all, so a declaration is a leaf that any layer may import.
 */
const DECLARATIONS = /^src\/(?:.+\/)?variables\.(?:js|ts)$/;
/** inventory, pki and artifacts are the foundations the rest is built on. */
const FOUNDATION_MAY_NOT = ['src/engine', 'src/roles', 'src/cli', 'src/lab', 'src/cluster'];

const RULES: readonly ImportRule[] = [
  // The repository's top-level folders.
  { from: 'src', mayNotImport: { anythingBut: ['src'] }, why: 'src/ is the product: the package ships its build (dist/src/) alone' },
  { from: 'dev', mayNotImport: { anythingBut: ['src', 'dev'] }, why: 'development tooling builds on the product, never on tests' },
  { from: 'bench', mayNotImport: { anythingBut: ['src', 'dev', 'bench'] }, why: 'benchmarks measure the product with dev/ tooling, never with tests' },
  { from: 'scripts', mayNotImport: { anythingBut: ['src', 'dev', 'scripts'] }, why: 'scripts (the demo) run the product with dev/ tooling, never with tests' },
  // Inside src/ (docs/design.md draws it). A rule the tree still breaks may be split off with `todo`
  // until the change that fixes it lands.
  { from: 'src/engine', mayNotImport: ['src/roles', 'src/cluster', 'src/cli', 'src/lab'], why: ENGINE_WHY },
  { from: 'src/ssh', mayNotImport: ['src/engine', 'src/lab', 'src/roles', 'src/cluster'], why: SSH_WHY },
  { from: 'src/lab', mayNotImport: ['src/cli', 'src/roles', 'src/engine'], why: 'the lab is a library the CLI drives' },
  { from: 'src/cluster', mayNotImport: ['src/roles', 'src/cli', 'src/lab'], why: 'the run context sits below the roles that read it' },
  {
    from: 'src',
    files: DECLARATIONS,
    mayNotImport: { anythingBut: ['src/inventory/variables.js', 'src/inventory/value-types.js', 'src/artifacts/ids.js'] },
    why: 'a declaration of variables is a leaf: it uses only the value types, so the inventory can assemble every folder\'s declarations without a cycle',
  },
  { from: 'src/inventory', mayNotImport: FOUNDATION_MAY_NOT, except: DECLARATIONS, why: 'inventories are parsed and checked without running anything' },
  { from: 'src/pki', mayNotImport: FOUNDATION_MAY_NOT, why: 'certificates are issued on this machine without running anything' },
  { from: 'src/artifacts', mayNotImport: FOUNDATION_MAY_NOT, why: 'artifacts are resolved and fetched without running plays' },
  { from: 'src/roles', mayNotImport: ['src/cli', 'src/lab'], why: 'roles describe desired state; how a run is started is not their concern' },
];

const SOURCE_FOLDERS = ['src', 'dev', 'bench', 'scripts', 'test'];
const imports = relativeImports(packageRoot, SOURCE_FOLDERS);

const isUnder = (p: string, folder: string) => p === folder || p.startsWith(`${folder}/`);

function breaks(rule: ImportRule, i: RepoImport): boolean {
  if (!isUnder(i.file, rule.from)) return false;
  if (rule.files && !rule.files.test(i.file)) return false;
  if (rule.except?.test(i.target)) return false;
  const banned = rule.mayNotImport;
  return 'anythingBut' in banned ? !banned.anythingBut.some((f) => isUnder(i.target, f)) : banned.some((f) => isUnder(i.target, f));
}

function title(rule: ImportRule): string {
  const banned = rule.mayNotImport;
  const from = rule.files ? `${rule.from}/ files matching ${rule.files.source}` : `${rule.from}/`;
  return 'anythingBut' in banned
    ? `${from} ${rule.files ? 'import' : 'imports'} nothing outside ${banned.anythingBut.map((f) => (f.endsWith('.js') ? f : `${f}/`)).join(', ')}`
    : `${from} imports nothing from ${banned.map((f) => `${f}/`).join(', ')}${rule.except ? ` (but ${rule.except.source})` : ''}`;
}

test('the scan finds the imports of every source folder', () => {
  for (const folder of SOURCE_FOLDERS) assert.ok(imports.some((i) => isUnder(i.file, folder)), `no relative import found under ${folder}/`);
});

test('every relative import names a file that exists', () => {
  // A source is imported by its .js name; JSON by its own.
  const missing = imports.filter((i) => {
    const file = path.join(packageRoot, i.target);
    return !existsSync(file) && !existsSync(file.replace(/\.js$/, '.ts'));
  });
  assert.deepEqual(missing.map((i) => `${i.file}:${i.line} imports '${i.specifier}'`), []);
});

for (const rule of RULES) {
  test(title(rule), { todo: rule.todo }, () => {
    const broken = imports.filter((i) => breaks(rule, i)).map((i) => `${i.file}:${i.line} imports '${i.specifier}' (${i.target})`);
    // Only the message: the list is the whole story, a diff against [] would repeat it.
    if (broken.length > 0) assert.fail(`${rule.why}; broken by:\n  ${broken.join('\n  ')}`);
  });
}
