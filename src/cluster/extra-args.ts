/**
 * Extra flags for a component from the inventory, the way kubeadm's `extraArgs` work (and so
 * Kubespray's `kube_kubeadm_*_extra_args` and `*_custom_flags`): a flag kprov already sets gets the
 * user's value, any other is added. Every flag is checked against the component's v1.13 list here,
 * so an error names the variable that brought it, not the template.
 */
import { KprovError } from '../errors.js';

/** One inventory variable's flags: a map (`{service-node-port-range: 30000-32767}`) or a list (`["--v=3"]`). */
export interface ExtraArgsSource {
  variable: string;
  value: Readonly<Record<string, unknown>> | readonly string[];
}

/** name → value, in the order given; later sources win. */
/** `accepted`: the component's v1.13 flags (acceptedKubeFlags in flags.ts). */
export function collectExtraArgs(component: string, sources: readonly ExtraArgsSource[], accepted: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const { variable, value } of sources) {
    const pairs: [string, string][] = Array.isArray(value)
      ? (value as readonly string[]).map((flag) => {
          const m = /^--?([A-Za-z0-9][A-Za-z0-9_.-]*)(?:=(.*))?$/.exec(flag.trim());
          if (!m) throw new KprovError('config', `${variable}: "${flag}" is not a flag; expected --name=value`);
          return [m[1]!, m[2] ?? 'true'];
        })
      : Object.entries(value as Record<string, unknown>).map(([k, v]) => [k.replace(/^--?/, ''), String(v)]);
    for (const [name, v] of pairs) {
      const normal = component === 'kubelet' ? name.replace(/_/g, '-') : name;
      if (!accepted.has(normal)) {
        throw new KprovError('config', `${variable}: ${component} does not accept --${name} (v1.13)`, { hint: `${component}'s v1.13 flags are listed in src/k8s/flags-v1.13.json` });
      }
      out.delete(normal);
      out.set(normal, v);
    }
  }
  return out;
}

const FLAG_LINE = /^(\s+)--([A-Za-z0-9][A-Za-z0-9_.-]*)(?:=(.*?))?(\s+\\)?$/;

/**
 * The unit with `args` applied to its ExecStart flag lines (one flag per line, as kprov's
 * templates write them): a flag it has takes the new value, others are added before the last.
 */
export function applyExtraArgs(unit: string, args: ReadonlyMap<string, string>): string {
  if (args.size === 0) return unit;
  const lines = unit.split('\n');
  const remaining = new Map(args);
  let last = -1;
  for (let i = 0; i < lines.length; i++) {
    const m = FLAG_LINE.exec(lines[i]!);
    if (!m) continue;
    last = i;
    const value = remaining.get(m[2]!);
    if (value === undefined) continue;
    lines[i] = `${m[1]}--${m[2]}=${quoted(value)}${m[4] ?? ''}`;
    remaining.delete(m[2]!);
  }
  if (last < 0) throw new KprovError('internal', 'the unit has no flag lines to add extra flags to');
  const indent = FLAG_LINE.exec(lines[last]!)![1]!;
  const added = [...remaining].map(([name, value]) => `${indent}--${name}=${quoted(value)} \\`);
  lines.splice(last, 0, ...added);
  return lines.join('\n');
}

/** systemd splits ExecStart on spaces: quote a value that has any. */
function quoted(value: string): string {
  return /[\s"'\\]/.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : value;
}
