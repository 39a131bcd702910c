/**
 * Kernel parameters: the running value (`sysctl -w`) and the persisted one (a file under
 * /etc/sysctl.d/), checked together with two commands.
 */
import { KprovError } from '../../errors.js';
import type { Change, Task } from '../contract.js';
import { probeRun } from '../read-cache.js';
import { applyFile, checkFile, meta, type FileChange, type TaskMeta } from './file.js';

export interface SysctlOptions extends TaskMeta {
  name?: string;
  settings: Readonly<Record<string, string | number>>;
  /** Default /etc/sysctl.d/99-kubernetes.conf. */
  file?: string;
}

export interface SysctlChange extends Change {
  kind: 'sysctl' | 'file';
  key?: string;
}

const KEY = /^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$/;

/** sysctl prints multi-value parameters with tabs; compare them by their words. */
function normalise(value: string | number): string {
  return String(value).trim().split(/\s+/).join(' ');
}

export function sysctl(options: SysctlOptions): Task<SysctlChange> {
  const path = options.file ?? '/etc/sysctl.d/99-kubernetes.conf';
  const keys = Object.keys(options.settings).sort();
  const content = Buffer.from(`# Managed by kprov\n${keys.map((k) => `${k} = ${normalise(options.settings[k]!)}`).join('\n')}\n`);
  const fileOptions = { path, content, mode: 0o644 };
  return {
    name: options.name ?? `sysctl ${keys.join(', ')}`,
    ...meta(options),
    reads: () => ({ paths: [path], commands: [{ argv: ['sysctl', '-n', ...keys] }] }),
    async check(host, ctx) {
      for (const k of keys) if (!KEY.test(k)) throw new KprovError('internal', `"${k}" is not a sysctl key`);
      const changes: SysctlChange[] = [...(await checkFile(host, fileOptions, content, ctx))];
      const result = await probeRun(host, { argv: ['sysctl', '-n', ...keys] }, ctx);
      const current = result.stdout.split('\n');
      keys.forEach((k, i) => {
        const now = normalise(current[i] ?? '');
        const want = normalise(options.settings[k]!);
        if (now !== want) changes.push({ kind: 'sysctl', key: k, summary: `set ${k} = ${want} (now ${now || 'unset'})` });
      });
      return changes;
    },
    async apply(host, changes) {
      const fileChanges = changes.filter((c): c is FileChange => c.kind === 'file');
      if (fileChanges.length > 0) await applyFile(host, fileOptions, content, fileChanges);
      const runtime = changes.flatMap((c) => (c.kind === 'sysctl' && c.key ? [`${c.key}=${normalise(options.settings[c.key]!)}`] : []));
      if (runtime.length > 0) await host.run(['sysctl', '-w', ...runtime]);
    },
  };
}
