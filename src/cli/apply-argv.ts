/**
 * `kprov apply` as text and as argv: the label a lock shows to another run, and the same command
 * with resolved paths for re-running it elsewhere (a lab's network namespace).
 */
import path from 'node:path';
import type { ApplyCommandOptions } from './apply.js';

/** The command as a lock shows it to another run: `kprov apply cluster --limit node4`. */
export function commandLabel(options: ApplyCommandOptions, playbookPath: string, playbooksDir: string): string {
  const inPlaybooksDir = path.dirname(playbookPath) === path.resolve(playbooksDir);
  const playbook = inPlaybooksDir ? path.basename(playbookPath).replace(/\.ya?ml$/, '') : playbookPath;
  return [
    'kprov',
    options.dryRun ? 'plan' : 'apply',
    playbook,
    ...(options.limit !== undefined ? ['--limit', options.limit] : []),
    ...(options.tags.length > 0 ? ['--tags', options.tags.join(',')] : []),
    ...(options.skipTags.length > 0 ? ['--skip-tags', options.skipTags.join(',')] : []),
  ].join(' ');
}

/** The same command with resolved paths, for re-running it in another place. */
export function commandArgv(options: ApplyCommandOptions, playbookPath: string, inventoryDir: string, cwd = process.cwd()): string[] {
  return [
    'apply',
    playbookPath,
    '-i',
    inventoryDir,
    ...(options.dryRun ? ['--dry-run'] : []),
    ...(options.limit !== undefined ? ['--limit', options.limit] : []),
    ...options.tags.flatMap((t) => ['--tags', t]),
    ...options.skipTags.flatMap((t) => ['--skip-tags', t]),
    '--concurrency',
    String(options.concurrency),
    ...(options.json ? ['--json'] : []),
    ...(options.askPass ? ['--ask-pass'] : []),
    // Paths resolved here: the other place may have another working directory.
    ...(options.extraVars ?? []).flatMap((e) => ['--extra-vars', e.trim().startsWith('@') ? `@${path.resolve(cwd, e.trim().slice(1))}` : e]),
    ...(options.connection?.user !== undefined ? ['--user', options.connection.user] : []),
    ...(options.connection?.become ? ['--become'] : []),
    ...(options.connection?.becomeUser !== undefined ? ['--become-user', options.connection.becomeUser] : []),
    ...(options.connection?.privateKey !== undefined ? ['--private-key', path.resolve(cwd, options.connection.privateKey)] : []),
    ...(options.diff ? ['--diff'] : []),
    ...(options.verbosity ? Array.from({ length: options.verbosity }, () => '--verbose') : []),
    ...(options.list === 'hosts' ? ['--list-hosts'] : options.list === 'tags' ? ['--list-tags'] : []),
    ...(options.strict ? ['--strict'] : []),
    ...(options.yes ? ['--yes'] : []),
  ];
}

