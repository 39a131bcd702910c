/**
 * The real dependencies of `kprov apply`/`plan`: the inventory loader, the SSH connector, the
 * built-in roles, the system clock and the terminal. Kept apart from apply.ts so the command
 * itself is tested with fakes.
 */
import path from 'node:path';
import { systemClock } from '../engine/executor.js';
import { createClusterRun, type ClusterRun } from '../cluster/run.js';
import { builtinRoleRegistry } from '../roles/index.js';
import { parseExtraVars } from '../inventory/extra-vars.js';
import { loadInventory } from '../inventory/load.js';
import { assertInLabNamespaceIfLab } from '../lab/netns.js';
import { runInLabIfNeeded } from './lab-reexec.js';
import { playbooksDir } from '../paths.js';
import { createConnector, createPasswordPrompt } from '../ssh/index.js';
import { requireKeyFiles } from '../ssh/key-files.js';
import type { SshEvent } from '../ssh/events.js';
import type { ApplyDeps, LoadedInventory } from './apply.js';
import type { CliIO } from './io.js';
import { resolveInventoryDir } from './resolve-inventory.js';
import { watchProcessInterrupts } from './interrupts.js';
import { askYesNo } from './ask-yes-no.js';

/** SSH layer events worth showing the user; connection details stay in the SSH layer. */
function sshNotice(e: SshEvent): { message: string; host?: string } | undefined {
  switch (e.type) {
    case 'ssh.hostkey.pinned':
      return { host: e.host, message: `trusted ${e.keyType} host key ${e.fingerprint} on first use (pinned in ${e.file})` };
    case 'ssh.reconnecting':
      return { host: e.host, message: `connection dropped (${e.reason}); reconnecting once` };
    case 'ssh.clusterkey.created':
      return { message: `created the cluster SSH key ${e.path} (${e.keyType} ${e.fingerprint})` };
    default:
      return undefined;
  }
}

/** -vvv: any SSH event as one line (its fields, secrets never among them). */
function verboseSsh(e: SshEvent): { message: string; host?: string } {
  const { type, ...fields } = e;
  const host = 'host' in fields && typeof fields.host === 'string' ? fields.host : undefined;
  const details = Object.entries(fields)
    .filter(([k, v]) => k !== 'host' && v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  return { message: `${type} ${details}`.trim(), ...(host !== undefined ? { host } : {}) };
}

export async function defaultApplyDeps(io: CliIO): Promise<ApplyDeps<ClusterRun>> {
  return {
    io,
    playbooksDir,
    roles: builtinRoleRegistry(),
    resolveInventoryDir: (option) => resolveInventoryDir(option, io),
    async loadInventory(dir, load): Promise<LoadedInventory<ClusterRun>> {
      const c = load.connection;
      const inv = await loadInventory(dir, {
        strict: load.strict,
        extraVars: await parseExtraVars(load.extraVars, load.cwd),
        connectionDefaults: {
          ...(c.user !== undefined ? { ansible_user: c.user } : {}),
          ...(c.become ? { ansible_become: true } : {}),
          ...(c.becomeUser !== undefined ? { ansible_become_user: c.becomeUser } : {}),
          ...(c.privateKey !== undefined ? { ansible_ssh_private_key_file: path.resolve(load.cwd, c.privateKey) } : {}),
        },
      });
      // A key file that cannot log in is bad input, found before any host is contacted.
      const keyWarnings = await requireKeyFiles(inv);
      return {
        dir: inv.dir,
        hosts: inv.hosts,
        groups: inv.groups,
        warnings: [...inv.warnings, ...keyWarnings],
        hostVar: (host, name) => (inv.hostVars(host) as Record<string, unknown>)[name],
        clusterVars: inv.cluster as Record<string, unknown>,
        createRun: ({ dryRun }) => createClusterRun(inv, { dryRun, env: io.env }),
      };
    },
    createConnector(inventory, setup) {
      const connector = createConnector(
        {
          dir: inventory.dir,
          hosts: [...inventory.hosts],
          groups: Object.fromEntries(Object.entries(inventory.groups).map(([g, members]) => [g, [...members]])),
        },
        {
          networkGuard: assertInLabNamespaceIfLab,
          concurrency: setup.concurrency,
          env: io.env,
          ...(setup.password ? { password: setup.password } : {}),
          onEvent: (e) => {
            const n = sshNotice(e) ?? (setup.verboseSsh ? verboseSsh(e) : undefined);
            if (n) setup.notice(n.message, n.host);
          },
        },
      );
      return { connect: (host) => connector.connect(host.name), closeAll: () => connector.closeAll() };
    },
    // A lab inventory's hosts exist only inside the lab's network namespace: run there.
    runElsewhere: runInLabIfNeeded,
    clock: systemClock,
    watchInterrupts: (graceMs) => watchProcessInterrupts((text) => io.err(text), io.env, graceMs),
    ...(process.stdin.isTTY ? { askPassword: createPasswordPrompt(process.stdin, process.stderr), askConfirmation: askYesNo } : {}),
    ...(io.isTTY ? { terminal: { stdout: process.stdout, stderr: process.stderr } } : {}),
  };
}
