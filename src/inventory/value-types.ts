/**
 * The value types inventory variables are declared with: zod schemas whose error messages say
 * what is expected. Values arrive typed by YAML, by Ansible's INI rules (inline literals) or as
 * strings (`:vars`), so integers and booleans are also accepted as text ("6443", "yes").
 */
import { z } from 'zod';
import { parseAnsibleBoolean, parseFlowLiteral } from './literal.js';
import { parseAddress, parseIpNet } from './ipaddr.js';

export const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

/** "6443" → 6443, as Ansible's `:vars` values need. */
export function intFromText(v: unknown): unknown {
  return typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : v;
}

/** A Python/YAML list or dict written as text (`['a', 'b']`), as `:vars` values carry them. */
export function structureFromText(v: unknown): unknown {
  return typeof v === 'string' && /^\s*[[{]/.test(v) ? (parseFlowLiteral(v.trim()) ?? v) : v;
}

/** An empty value ("" or YAML's null) leaves an optional variable unset. */
export function unsetIfEmpty(v: unknown): unknown {
  return v === '' || v === null ? undefined : v;
}

/** Kubespray writes `0` for "no checksum known". */
export function unsetIfNoChecksum(v: unknown): unknown {
  return v === 0 || v === '0' ? undefined : unsetIfEmpty(v);
}

export const int = (expected: string, min: number, max: number) =>
  z.preprocess(intFromText, z.number({ error: expected }).int(expected).min(min, expected).max(max, expected));

export const bool = z.preprocess((v) => parseAnsibleBoolean(v) ?? v, z.boolean({ error: 'true or false (or yes/no)' }));

export const text = (expected: string) => z.string({ error: expected }).trim().min(1, expected);

export const port = int('a port number (1-65535)', 1, 65535);

export const absolutePath = text('an absolute path').regex(/^\/[^\0]*$/, 'an absolute path');

export const ip = text('an IP address').refine((s) => parseAddress(s) !== undefined, 'an IP address');

export const hostOrIp = text('an IP address or DNS name').refine(
  (s) => parseAddress(s) !== undefined || (DNS_NAME.test(s) && !/^[\d.]+$/.test(s)),
  'an IP address or DNS name',
);

export const cidr = text('a CIDR such as 10.233.0.0/18').refine((s) => {
  const parsed = parseIpNet(s);
  return parsed !== undefined && parsed.vtype === 'network' && /\/\d+$/.test(s);
}, 'a CIDR such as 10.233.0.0/18');

export const httpUrl = text('an http:// or https:// URL').refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}, 'an http:// or https:// URL');

export const CHECKSUM = /^(?:sha256:[0-9a-fA-F]{64}|sha512:[0-9a-fA-F]{128}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$/;
export const checksum = text('a checksum: 64 hex digits (sha256), sha256:<hex> or sha512:<hex>').regex(
  CHECKSUM,
  'a checksum: 64 hex digits (sha256), sha256:<hex> or sha512:<hex>',
);

export const list = <T extends z.ZodType>(item: T, expected: string) => z.preprocess(structureFromText, z.array(item, { error: expected }));

export const optional = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfEmpty, schema.optional());

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `one of ${values.join(', ')}` });

export const userName = text('a user name').regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'a user name');

/** Kubernetes v1.13.0 … v1.13.12: the releases that exist; "1.13.5" (Kubespray master's spelling) becomes "v1.13.5". */
export const kubeVersion = text('a v1.13 release such as v1.13.5 (kprov deploys Kubernetes v1.13 only)')
  .regex(/^v?1\.13\.(?:\d|1[0-2])$/, 'v1.13.x (v1.13.0 … v1.13.12): kprov deploys Kubernetes v1.13 only')
  .transform((s) => (s.startsWith('v') ? s : `v${s}`));

export const release = (expected: string, pattern: RegExp, withV: boolean) =>
  text(expected)
    .regex(pattern, expected)
    .transform((s) => (withV ? (s.startsWith('v') ? s : `v${s}`) : s.replace(/^v/, '')));

/** A mapping of names to scalar values (flags, labels), as YAML or as `:vars` text. */
export const scalarMap = (expected: string) =>
  z.preprocess(structureFromText, z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]), { error: expected }));

/** `Name=true` feature gates, Kubespray's list form. */
export const featureGates = list(
  text('a feature gate such as CSIBlockVolume=true').regex(/^[A-Za-z0-9]+=(?:true|false)$/, 'a feature gate such as CSIBlockVolume=true'),
  'a list of feature gates such as ["CSIBlockVolume=true"]',
);

/** `k8s.gcr.io`, `registry.local:5000/team/images`: a registry host and an optional path, as image references spell them. */
export const IMAGE_REPO = /^(?:[a-z0-9]+(?:[.-][a-z0-9]+)*)(?::\d{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
export const imageRepo = (example: string) => text(`an image repository such as ${example}`).regex(IMAGE_REPO, `an image repository such as ${example}`);

/** YAML reads an unquoted `3.1` as a number; Ansible would render it as the text 3.1. */
export const imageTag = z.preprocess(
  (v) => (typeof v === 'number' ? String(v) : v),
  text('an image tag such as 3.1').regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'an image tag such as 3.1'),
);

/** A resource quantity as Kubernetes spells it: 100m, 70Mi, 1.5. */
export const resourceQuantity = text('a resource quantity such as 100m or 170Mi').regex(/^[0-9]+(?:\.[0-9]+)?(?:m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, 'a resource quantity such as 100m or 170Mi');
