/**
 * Whether the pod network is ready: a CNI network configuration in --cni-conf-dir (the first valid
 * .conf/.conflist/.json by name, as libcni picks it) whose plugin binaries are all present and
 * executable in one of --cni-bin-dir's directories.
 */
import { accessSync, constants, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const pluginSchema = z.looseObject({ type: z.string().min(1) });
const confSchema = z.looseObject({ name: z.string().min(1), type: z.string().min(1) });
const confListSchema = z.looseObject({ name: z.string().min(1), plugins: z.array(pluginSchema).min(1) });

export type NetworkState = { ready: true; network: string } | { ready: false; message: string };

const NOT_READY = 'runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:';

function findBinary(dirs: readonly string[], type: string): boolean {
  return dirs.some((d) => {
    try {
      const p = path.join(d, type);
      if (!statSync(p).isFile()) return false;
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function networkState(confDir: string, binDirs: readonly string[]): NetworkState {
  let files: string[];
  try {
    files = readdirSync(confDir).filter((f) => /\.(conf|conflist|json)$/.test(f)).sort();
  } catch {
    files = [];
  }
  for (const file of files) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path.join(confDir, file), 'utf8'));
    } catch {
      continue;
    }
    const list = file.endsWith('.conflist') ? confListSchema.safeParse(raw) : undefined;
    const single = list ? undefined : confSchema.safeParse(raw);
    const network = list?.success ? { name: list.data.name, types: list.data.plugins.map((p) => p.type) } : single?.success ? { name: single.data.name, types: [single.data.type] } : undefined;
    if (!network) continue;
    const missing = network.types.find((t) => !findBinary(binDirs, t));
    if (missing) return { ready: false, message: `${NOT_READY}network plugin is not ready: failed to find plugin "${missing}" in path [${binDirs.join(' ')}]` };
    return { ready: true, network: network.name };
  }
  return { ready: false, message: `${NOT_READY}network plugin is not ready: cni config uninitialized` };
}
