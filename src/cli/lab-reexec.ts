/**
 * A lab inventory's hosts exist only inside the lab's network namespace: a command that reaches
 * them re-runs this kprov there (with `argv`, its own arguments) and returns that run's exit
 * status, or undefined when this process is already the right place.
 * bin/kprov.js usually has done so before the CLI loaded (enter-lab.ts); this covers what that
 * first look leaves to full parsing, and the CLI run in-process (tests).
 */
import path from 'node:path';
import { runInLabNamespaceIfNeeded } from '../lab/netns.js';
import { packageRoot } from '../paths.js';

export function runInLabIfNeeded(inventoryDir: string, argv: string[]): Promise<number | undefined> {
  return runInLabNamespaceIfNeeded(inventoryDir, argv, path.join(packageRoot, 'bin', 'kprov.js'));
}
