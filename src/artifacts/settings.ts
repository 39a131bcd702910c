/**
 * What the artifact code needs to know about a cluster: versions, architecture, where to download
 * from, pinned checksums. Built from a host's merged variables by settingsFromVars(), or from a
 * plain object by parseArtifactSettings(); either way it crosses this zod schema once.
 */
import { z } from 'zod';
import { KprovError, type SourceLocation } from '../errors.js';
import { CHECKSUM_PIN_FORMS, parseChecksumPin, type Digest } from './checksum.js';
import { DEFAULTS } from '../inventory/schema.js';
import { ARTIFACT_IDS, ARTIFACT_VAR_NAMES, artifactVarName, type ArtifactVarName } from './ids.js';

/** The inventory's own defaults, so settings built from bare variables match a loaded inventory. */
const defaultText = (name: keyof typeof DEFAULTS): string => String(DEFAULTS[name]);
export const ARTIFACT_DEFAULTS = {
  kube_version: defaultText('kube_version'),
  etcd_version: defaultText('etcd_version'),
  containerd_version: defaultText('containerd_version'),
  runc_version: defaultText('runc_version'),
  cni_version: defaultText('cni_version'),
  arch: defaultText('image_arch') as 'amd64',
  bin_dir: defaultText('bin_dir'),
} as const;

export const ARCHES = ['amd64', 'arm64'] as const;
export type Arch = (typeof ARCHES)[number];

const VERSION_TEXT = /^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

/** A release version, normalized to the form its upstream uses in URLs (with or without `v`). */
function version(withV: boolean) {
  return z
    .string({ error: 'must be a version such as v1.13.5 (quote it in YAML)' })
    .trim()
    .regex(VERSION_TEXT, 'must be a version such as v1.13.5')
    .transform((s) => (withV ? (s.startsWith('v') ? s : `v${s}`) : s.replace(/^v/, '')));
}

const httpUrl = z
  .string({ error: 'must be an http:// or https:// URL' })
  .trim()
  .refine((s) => !s.includes('{{') && !s.includes('{%'), 'contains a template expression that was not evaluated')
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');

const checksumPin = z
  .string({ error: `must be a checksum: ${CHECKSUM_PIN_FORMS}` })
  .refine((s) => parseChecksumPin(s) !== undefined, `must be ${CHECKSUM_PIN_FORMS}`)
  .transform((s) => parseChecksumPin(s) as Digest);

const absolutePath = z
  .string()
  .regex(/^\/[^\0]*$/, 'must be an absolute path')
  .transform((s) => (s.length > 1 ? s.replace(/\/+$/, '') : s));

const overrideSchema = z.strictObject({ url: httpUrl.optional(), checksum: checksumPin.optional() });

export const artifactSettingsSchema = z.strictObject({
  kube_version: version(true).default(ARTIFACT_DEFAULTS.kube_version),
  /** Defaults to kube_version. */
  kubectl_version: version(true).optional(),
  etcd_version: version(true).default(ARTIFACT_DEFAULTS.etcd_version),
  /** containerd's URLs and Kubespray's variable carry no `v`. */
  containerd_version: version(false).default(ARTIFACT_DEFAULTS.containerd_version),
  runc_version: version(true).default(ARTIFACT_DEFAULTS.runc_version),
  cni_version: version(true).default(ARTIFACT_DEFAULTS.cni_version),
  arch: z.enum(ARCHES, { error: `must be one of ${ARCHES.join(', ')}` }).default(ARTIFACT_DEFAULTS.arch),
  /** Offline mirror: `https://HOST/PATH` is fetched from `{files_repo}/HOST/PATH`. */
  files_repo: httpUrl.transform((s) => s.replace(/\/+$/, '')).optional(),
  /** Where binaries are installed on hosts (CNI plugins always go to /opt/cni/bin). */
  bin_dir: absolutePath.default(ARTIFACT_DEFAULTS.bin_dir),
  overrides: z.partialRecord(z.enum(ARTIFACT_VAR_NAMES as [ArtifactVarName, ...ArtifactVarName[]]), overrideSchema).default({}),
  /** true: download once on the control host and push; false: every host downloads for itself. */
  download_localhost: z.boolean({ error: 'must be true or false' }).default(true),
  insecureSkipChecksum: z.boolean().default(false),
});

export type ArtifactSettingsInput = z.input<typeof artifactSettingsSchema>;
export type ArtifactSettings = z.output<typeof artifactSettingsSchema>;

/** The group_vars name a schema path came from, so errors name what the user wrote. */
function variableFor(path: readonly PropertyKey[]): string {
  const [head, name, field] = path.map(String);
  if (head === 'arch') return 'image_arch';
  if (head === 'insecureSkipChecksum') return '--insecure-skip-checksum';
  if (head === 'overrides' && name !== undefined) {
    return field === 'checksum' ? `${name}_checksum` : field === 'url' ? `${name}_download_url` : name;
  }
  return head ?? 'artifact settings';
}

function toKprovError(error: z.ZodError, locate?: (variable: string) => SourceLocation | undefined): KprovError {
  const issue = error.issues[0]!;
  const variable = variableFor(issue.path);
  const location = locate?.(variable);
  return new KprovError('config', `${variable}: ${issue.message}`, location ? { location } : {});
}

/** Validates settings given as a plain object (tests, callers that already have typed values). */
export function parseArtifactSettings(input: ArtifactSettingsInput | unknown): ArtifactSettings {
  const result = artifactSettingsSchema.safeParse(input);
  if (!result.success) throw toKprovError(result.error);
  return result.data;
}

export interface SettingsFromVarsOptions {
  insecureSkipChecksum?: boolean;
  /** Where a variable was defined, for error messages (the inventory loader knows). */
  locate?: (variable: string) => SourceLocation | undefined;
}

/** Kubespray writes `0` or an empty string for "no checksum known": treat those as unset. */
function isUnset(value: unknown): boolean {
  return value === undefined || value === null || value === '' || value === 0;
}

/**
 * Builds the settings from a host's merged variables (Kubespray names: kube_version, etcd_version,
 * containerd_version, runc_version, cni_version, kubectl_version, image_arch, files_repo, bin_dir,
 * download_localhost, `<name>_download_url`, `<name>_checksum`). Bad values throw KprovError
 * ('config') naming the variable.
 */
export function settingsFromVars(vars: Readonly<Record<string, unknown>>, options: SettingsFromVarsOptions = {}): ArtifactSettings {
  const input: Record<string, unknown> = {};
  const copy = (from: string, to = from) => {
    if (!isUnset(vars[from])) input[to] = vars[from];
  };
  for (const v of ['kube_version', 'kubectl_version', 'etcd_version', 'containerd_version', 'runc_version', 'cni_version']) copy(v);
  copy('image_arch', 'arch');
  copy('files_repo');
  copy('bin_dir');
  if (vars['download_localhost'] !== undefined) input['download_localhost'] = vars['download_localhost'];
  const overrides: Record<string, Record<string, unknown>> = {};
  for (const id of ARTIFACT_IDS) {
    const name = artifactVarName(id);
    const url = vars[`${name}_download_url`];
    const checksum = vars[`${name}_checksum`];
    if (isUnset(url) && isUnset(checksum)) continue;
    overrides[name] = {
      ...(isUnset(url) ? {} : { url }),
      ...(isUnset(checksum) ? {} : { checksum }),
    };
  }
  input['overrides'] = overrides;
  input['insecureSkipChecksum'] = options.insecureSkipChecksum ?? false;
  const result = artifactSettingsSchema.safeParse(input);
  if (!result.success) throw toKprovError(result.error, options.locate);
  return result.data;
}
