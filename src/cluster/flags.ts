/**
 * The v1.13 flag contract for rendered units: every flag in a unit's ExecStart (and every ETCD_*
 * variable in etcd's environment file) must be one the component of that version accepts, per
 * the vendored reference src/k8s/flags-v1.13.json. Checked right after rendering, so a wrong
 * template fails on the control host, naming the template and the flag, before any host is touched.
 */
import { z } from 'zod';
import flagsJson from '../k8s/flags-v1.13.json' with { type: 'json' };
import { KprovError } from '../errors.js';
import { DEFAULTS, type ClusterVars } from '../inventory/schema.js';
import { applyExtraArgs } from './extra-args.js';
import type { TemplateRenderer } from '../engine/contract.js';

export const KUBE_COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy'] as const;
export type KubeComponent = (typeof KUBE_COMPONENTS)[number];
/** What a unit's ExecStart runs: a kube component, etcd, or something without a flag reference. */
export type UnitComponent = KubeComponent | 'etcd' | 'none';

const componentSchema = z.object({
  flags: z.array(z.string()),
  deprecated_but_accepted: z.array(z.string()).optional(),
  hidden_but_accepted: z.array(z.string()).optional(),
  /** flag → "v1.13.N (…)": accepted from that patch release on. */
  added_in_patch: z.record(z.string(), z.string()).optional(),
});
const etcdSchema = z.object({
  flags: z.array(z.string()),
  ignored_legacy_flags_accepted_as_noop: z.array(z.string()).optional(),
});
const referenceSchema = z.record(z.string(), z.unknown());

// The reference is vendored data; it crosses its schema once, on first use.
let reference: Record<string, unknown> | undefined;
function referenceEntry<T extends z.ZodType>(key: string, schema: T): z.output<T> {
  reference ??= referenceSchema.parse(flagsJson);
  const parsed = schema.safeParse(reference[key]);
  if (!parsed.success) throw new KprovError('internal', `src/k8s/flags-v1.13.json: entry "${key}" is missing or malformed`);
  return parsed.data;
}

/** `v1.13.5` → 5; anything that is not a v1.13 release is refused (kprov deploys v1.13 only). */
function patchOf(kubeVersion: string): number {
  const m = /^v?1\.13\.(\d+)$/.exec(kubeVersion.trim());
  if (!m) throw new KprovError('config', `kube_version ${kubeVersion} is not a v1.13 release`);
  return Number(m[1]);
}

const kubeCache = new Map<string, ReadonlySet<string>>();

/** Every flag `component` of `kubeVersion` accepts (names without dashes). */
export function acceptedKubeFlags(component: KubeComponent, kubeVersion: string): ReadonlySet<string> {
  const patch = patchOf(kubeVersion);
  const key = `${component}@${patch}`;
  const cached = kubeCache.get(key);
  if (cached) return cached;
  const entry = referenceEntry(component, componentSchema);
  const accepted = new Set([...entry.flags, ...(entry.deprecated_but_accepted ?? []), ...(entry.hidden_but_accepted ?? [])]);
  for (const [flag, since] of Object.entries(entry.added_in_patch ?? {})) {
    const m = /v1\.13\.(\d+)/.exec(since);
    if (m && patch >= Number(m[1])) accepted.add(flag);
  }
  kubeCache.set(key, accepted);
  return accepted;
}

/** The patch release from which a flag is accepted, when it is a patch-release addition. */
function addedInPatch(component: KubeComponent, flag: string): string | undefined {
  const since = referenceEntry(component, componentSchema).added_in_patch?.[flag];
  return since ? /v1\.13\.\d+/.exec(since)?.[0] : undefined;
}

const ETCD_REFERENCES = ['etcd-v3.2.24', 'etcd-v3.3.10'] as const;

function versionTuple(v: string): [number, number, number] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  if (!m) throw new KprovError('config', `etcd_version ${v} is not a release such as v3.2.24`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/**
 * The reference list nearest to `etcdVersion` (3.2.x → 3.2.24; 3.3.x and later, e.g. the lab's
 * 3.4.23 → 3.3.10): the reference covers only the releases Kubernetes v1.13 shipped with.
 */
export function nearestEtcdReference(etcdVersion: string): (typeof ETCD_REFERENCES)[number] {
  const [maj, min, pat] = versionTuple(etcdVersion);
  const distance = (ref: string) => {
    const [rMaj, rMin, rPat] = versionTuple(ref.replace(/^etcd-/, ''));
    return [Math.abs(maj - rMaj), Math.abs(min - rMin), Math.abs(pat - rPat)] as const;
  };
  return [...ETCD_REFERENCES].sort((a, b) => {
    const [da, db] = [distance(a), distance(b)];
    return da[0] - db[0] || da[1] - db[1] || da[2] - db[2];
  })[0]!;
}

/** Every flag etcd `etcdVersion` accepts, by the nearest reference list. */
export function acceptedEtcdFlags(etcdVersion: string): ReadonlySet<string> {
  const entry = referenceEntry(nearestEtcdReference(etcdVersion), etcdSchema);
  return new Set([...entry.flags, ...(entry.ignored_legacy_flags_accepted_as_noop ?? [])]);
}

/** Splits a command line the way systemd does (quotes, backslash escapes), without expanding anything. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i]!;
      else word += c;
      continue;
    }
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i]!;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new Error(`unbalanced ${quote} quote`);
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * The command lines of a unit's ExecStart= settings (continuation lines joined). Given text with
 * no ExecStart= line, the text itself is taken as one command line.
 */
export function execStartLines(unitOrCommand: string): string[] {
  const joined = unitOrCommand.replace(/\\\r?\n/g, ' ');
  const lines = joined.split(/\r?\n/);
  const exec = lines.filter((l) => /^\s*ExecStart\s*=/.test(l)).map((l) => l.replace(/^\s*ExecStart\s*=\s*/, ''));
  if (exec.length === 0 && !/^\s*\[/m.test(unitOrCommand)) return [joined.trim()];
  // An empty ExecStart= resets the list (drop-ins); systemd's prefixes (-@:+!) are not part of the path.
  return exec.map((l) => l.trim().replace(/^[-@:+!]+/, '')).filter((l) => l !== '');
}

/** Flag names (without dashes) in argv, skipping the program itself and stopping at `--`. */
export function flagNames(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const word of argv.slice(1)) {
    if (word === '--') break;
    if (!word.startsWith('-') || word === '-') continue;
    const name = word.replace(/^--?/, '').split('=')[0]!;
    out.push(name);
  }
  return out;
}

function templateError(source: string, message: string, hint?: string): KprovError {
  return new KprovError('template', `${source}: ${message}`, { ...(hint ? { hint } : {}) });
}

export interface FlagCheckOptions {
  /** kube_version (v1.13.N): patch-release additions count from their release on. Default v1.13.0. */
  kubeVersion?: string;
  /** etcd_version, for component 'etcd'. Default kprov's etcd_version default. */
  etcdVersion?: string;
}

const SHORTHANDS: Readonly<Record<string, string>> = { v: 'v', h: 'help' };

/**
 * Throws KprovError('template') naming `source` and the first flag `component` does not accept.
 * `execStart` is a rendered unit (its ExecStart= lines are read) or a bare command line.
 * `$VAR` expansions are refused: flags hidden in variables could not be checked.
 */
export function validateUnitFlags(
  component: KubeComponent | 'etcd',
  execStart: string,
  source: string,
  options: FlagCheckOptions = {},
): void {
  const kubeVersion = options.kubeVersion ?? 'v1.13.0';
  const etcdVersion = options.etcdVersion ?? String(DEFAULTS.etcd_version);
  const accepted = component === 'etcd' ? acceptedEtcdFlags(etcdVersion) : acceptedKubeFlags(component, kubeVersion);
  const label = component === 'etcd' ? `etcd (${etcdVersion})` : `${component} (${kubeVersion.startsWith('v') ? kubeVersion : `v${kubeVersion}`})`;
  const lines = execStartLines(execStart);
  if (lines.length === 0) throw templateError(source, `no ExecStart= command line for ${component}`);
  for (const line of lines) {
    if (/\$\{?[A-Za-z_]/.test(line)) {
      throw templateError(source, `ExecStart uses an environment variable (${/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/.exec(line)![0]})`, 'write every flag in the unit itself so kprov can check it against the v1.13 flag list');
    }
    let argv: string[];
    try {
      argv = splitCommandLine(line);
    } catch (err) {
      throw templateError(source, `cannot split ExecStart: ${(err as Error).message}`);
    }
    for (const raw of flagNames(argv)) {
      // kubelet normalises underscores (WordSepNormalizeFunc); the others do not (flags-v1.13.json caveats).
      const name = SHORTHANDS[raw] ?? (component === 'kubelet' ? raw.replace(/_/g, '-') : raw);
      if (accepted.has(name)) continue;
      const since = component === 'etcd' ? undefined : addedInPatch(component, name);
      throw templateError(
        source,
        `${component} does not accept --${raw} (${since ? `only from ${since}; kube_version is ${kubeVersion}` : component === 'etcd' ? etcdVersion : 'v1.13'})`,
        since ? `raise kube_version to ${since} or later, or drop --${raw}` : `${label} flags are listed in src/k8s/flags-v1.13.json`,
      );
    }
  }
}

/** Environment variables an etcd env file may set besides the ETCD_<FLAG> ones. */
const ETCD_ENV_EXTRA = new Set(['ETCD_UNSUPPORTED_ARCH', 'GOMAXPROCS']);

/** `ETCD_INITIAL_CLUSTER_STATE` → `initial-cluster-state`. */
export function etcdEnvFlag(variable: string): string {
  return variable.replace(/^ETCD_/, '').toLowerCase().replace(/_/g, '-');
}

/** Parses an EnvironmentFile (KEY=VALUE lines, # comments); throws on anything else. */
export function parseEnvFile(text: string, source: string): { key: string; value: string; line: number }[] {
  const out: { key: string; value: string; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw templateError(`${source}:${i + 1}`, `not a KEY=VALUE line: ${JSON.stringify(line.length > 60 ? `${line.slice(0, 57)}...` : line)}`);
    out.push({ key: m[1]!, value: m[2]!, line: i + 1 });
  });
  return out;
}

/**
 * Every variable of an etcd environment file must be ETCD_<FLAG> for a flag etcd `etcdVersion`
 * accepts (etcd only warns about unknown ones, so a typo would silently be ignored).
 */
export function validateEtcdEnv(envFileText: string, etcdVersion: string, source: string): void {
  const accepted = acceptedEtcdFlags(etcdVersion);
  const seen = new Map<string, number>();
  for (const { key, line } of parseEnvFile(envFileText, source)) {
    const where = `${source}:${line}`;
    if (seen.has(key)) throw templateError(where, `${key} is set twice (first on line ${seen.get(key)})`);
    seen.set(key, line);
    if (ETCD_ENV_EXTRA.has(key)) continue;
    if (!key.startsWith('ETCD_')) throw templateError(where, `${key} is not an etcd setting (expected ETCD_<FLAG>)`);
    const flag = etcdEnvFlag(key);
    if (!accepted.has(flag)) {
      throw templateError(where, `etcd ${etcdVersion} does not accept ${key} (--${flag})`, `etcd flags are listed in src/k8s/flags-v1.13.json (${nearestEtcdReference(etcdVersion)})`);
    }
  }
}

/** What renderUnit needs of a task's or play's context: the renderer and the cluster's versions. */
export interface UnitRenderContext {
  readonly render: TemplateRenderer;
  readonly run: { readonly inventory: { readonly cluster: Readonly<Pick<ClusterVars, 'kube_version' | 'etcd_version'>> } };
}

/** kube_version and etcd_version as the cluster sees them. */
export function flagVersions(ctx: Pick<UnitRenderContext, 'run'>): { kubeVersion: string; etcdVersion: string } {
  const { kube_version, etcd_version } = ctx.run.inventory.cluster;
  return { kubeVersion: kube_version, etcdVersion: etcd_version };
}

/**
 * Renders a unit template and checks its ExecStart flags against `component`'s v1.13 flags
 * (`none`: a unit of something else, rendered only). Errors name `templates/<template>`.
 */
export function renderUnit(
  ctx: UnitRenderContext,
  template: string,
  vars: Record<string, unknown>,
  component: UnitComponent,
  /** Flags from the inventory (collectExtraArgs): kprov's value replaced or the flag added. */
  extraArgs?: ReadonlyMap<string, string>,
): string {
  const rendered = ctx.render(template, vars);
  const text = extraArgs ? applyExtraArgs(rendered, extraArgs) : rendered;
  if (component !== 'none') validateUnitFlags(component, text, `templates/${template}`, flagVersions(ctx));
  return text;
}

/** Renders etcd's environment file and checks every variable against etcd's flags. */
export function renderEtcdEnv(ctx: UnitRenderContext, template: string, vars: Record<string, unknown>): string {
  const text = ctx.render(template, vars);
  validateEtcdEnv(text, flagVersions(ctx).etcdVersion, `templates/${template}`);
  return text;
}
