/** A kernel module loaded now and at every boot (/etc/modules-load.d/<name>.conf). */
import { KprovError } from '../../errors.js';
import type { Change, Task } from '../contract.js';
import { probe } from '../read-cache.js';
import { applyFile, checkFile, meta, type FileChange, type TaskMeta } from './file.js';

export interface KernelModuleOptions extends TaskMeta {
  name?: string;
  module: string;
  /** Also load it at boot (default true). */
  persist?: boolean;
}

export interface KernelModuleChange extends Change {
  kind: 'module' | 'file';
}

export function kernelModule(options: KernelModuleOptions): Task<KernelModuleChange> {
  const mod = options.module;
  const path = `/etc/modules-load.d/${mod}.conf`;
  const content = Buffer.from(`${mod}\n`);
  const fileOptions = { path, content, mode: 0o644 };
  // Loaded (or built-in) modules appear under /sys/module with dashes as underscores.
  const loadedProbe = { argv: ['test', '-d', `/sys/module/${mod.replace(/-/g, '_')}`] };
  return {
    name: options.name ?? `kernel module ${mod}`,
    ...meta(options),
    reads: () => ({ ...(options.persist === false ? {} : { paths: [path] }), commands: [loadedProbe] }),
    async check(host, ctx) {
      if (!/^[A-Za-z0-9_-]+$/.test(mod)) throw new KprovError('internal', `"${mod}" is not a kernel module name`);
      const changes: KernelModuleChange[] = options.persist === false ? [] : [...(await checkFile(host, fileOptions, content, ctx))];
      const loaded = (await probe(host, loadedProbe, ctx)).code === 0;
      if (!loaded) changes.push({ kind: 'module', summary: `load kernel module ${mod}` });
      return changes;
    },
    async apply(host, changes) {
      const fileChanges = changes.filter((c): c is FileChange => c.kind === 'file');
      if (fileChanges.length > 0) await applyFile(host, fileOptions, content, fileChanges);
      if (changes.some((c) => c.kind === 'module')) await host.run(['modprobe', '--', mod]);
    },
  };
}
