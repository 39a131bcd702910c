/**
 * The cluster description the PKI is made from. It is deliberately plain (no inventory types) so
 * any caller can build it; it crosses this zod schema once, in parsePkiInput().
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { KprovError } from '../errors.js';
import { DEFAULT_REMOTE_DIRS } from './layout.js';

/** Host names become file names (etcd/server-<host>.crt), so they must be safe path segments. */
const hostName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a host name (letters, digits, ".", "_", "-")')
  .refine((s) => !s.includes('..'), 'must not contain ".."');

const ipAddress = z.string().refine((s) => isIP(s) !== 0, 'must be an IPv4 or IPv6 address');

/** A DNS name or an IP address: SANs are typed from the value. */
const address = z
  .string()
  .min(1)
  .refine((s) => isIP(s) !== 0 || /^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(s), 'must be a DNS name or an IP address');

const cidr = z.string().refine((s) => {
  const [ip, bits, ...rest] = s.split('/');
  if (rest.length > 0 || ip === undefined || bits === undefined || !/^\d+$/.test(bits)) return false;
  const family = isIP(ip);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}, 'must be a CIDR such as 10.233.0.0/18');

export const pkiHostSchema = z.strictObject({
  name: hostName,
  /** The address services bind to and advertise (`ip`). */
  ip: ipAddress.optional(),
  /** The address other hosts use to reach this one (`access_ip`). */
  accessIp: ipAddress.optional(),
  /** How the host is reached over SSH (`ansible_host`, else the name). */
  address,
});

export const pkiEtcdHostSchema = pkiHostSchema.extend({ memberName: z.string().min(1) });

export const keyAlgorithms = ['rsa-2048', 'ecdsa-p256'] as const;

const remotePath = z
  .string()
  .regex(/^\/[^\0]*$/, 'must be an absolute path')
  .refine((s) => !s.split('/').includes('..'), 'must not contain ".."')
  .transform((s) => (s.length > 1 ? s.replace(/\/+$/, '') : s));

/** Remote directories for the files (see layout.ts); omitted ones take Kubespray's defaults. */
export const remoteDirsSchema = z.strictObject({
  cert: remotePath.default(DEFAULT_REMOTE_DIRS.cert),
  etcdCert: remotePath.default(DEFAULT_REMOTE_DIRS.etcdCert),
  config: remotePath.default(DEFAULT_REMOTE_DIRS.config),
  kubeletCert: remotePath.default(DEFAULT_REMOTE_DIRS.kubeletCert),
});

export const pkiInputSchema = z.strictObject({
  clusterName: z.string().min(1),
  dnsDomain: address,
  /** `kube_service_addresses`; its first address is the `kubernetes` service IP. */
  serviceCidr: cidr,
  apiserverPort: z.number().int().min(1).max(65535).default(6443),
  controlPlane: z.array(pkiHostSchema).min(1, 'at least one control-plane host is needed'),
  etcd: z.array(pkiEtcdHostSchema).min(1, 'at least one etcd host is needed'),
  /** Every host that runs a kubelet and kube-proxy (Kubespray: kube_control_plane ∪ kube_node). */
  nodes: z.array(pkiHostSchema),
  loadBalancer: z
    .strictObject({ address, port: z.number().int().min(1).max(65535), domainName: address.optional() })
    .optional(),
  /** `supplementary_addresses_in_ssl_keys`. */
  supplementaryAddresses: z.array(address).default([]),
  /** The URL kubeconfigs for users, kubelets and kube-proxy point at (LB or first control plane). */
  apiserverEndpoint: z.url({ protocol: /^https$/ }),
  /**
   * Set when nodes reach the API through a node-local proxy on 127.0.0.1:<port>: the kubelet's and
   * kube-proxy's kubeconfigs then point there on workers, and at the host's own API server on
   * control-plane hosts (Kubespray's loadbalancer_apiserver_localhost).
   */
  nodeLocalApiPort: z.number().int().min(1).max(65535).optional(),
  /** Leaf certificate lifetime; more than the 30-day renewal margin, else every run would reissue. */
  validityDays: z.number().int().min(31).max(36500).default(365),
  caValidityDays: z.number().int().min(31).max(36500).default(3650),
  /** ecdsa-p256 (default) is accepted by every v1.13 component and is ~1000× faster to generate
   *  than rsa-2048, which is what kubeadm v1.13 issues. The service-account key is RSA 2048 either way. */
  keyAlgorithm: z.enum(keyAlgorithms).default('ecdsa-p256'),
  /** Where files go on hosts (`prefault`: omitted fields still get their defaults). */
  remoteDirs: remoteDirsSchema.prefault({}),
});

export type PkiHost = z.output<typeof pkiHostSchema>;
export type PkiEtcdHost = z.output<typeof pkiEtcdHostSchema>;
export type KeyAlgorithm = (typeof keyAlgorithms)[number];
export type RemoteDirsInput = z.input<typeof remoteDirsSchema>;
/** What callers write (defaults optional). */
export type PkiInputDraft = z.input<typeof pkiInputSchema>;
/** What the library works with (defaults filled in). */
export type PkiInput = z.output<typeof pkiInputSchema>;

/**
 * Validates a cluster description. `source` names where it came from for the error message.
 * Duplicate host names within a role are rejected: they would map two hosts onto one file.
 */
export function parsePkiInput(value: unknown, source = '<pki input>'): PkiInput {
  const result = pkiInputSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join('.') : 'input';
    throw new KprovError('pki', `invalid PKI input: ${where}: ${issue.message}`, { location: { file: source } });
  }
  const input = result.data;
  for (const [role, hosts] of [
    ['controlPlane', input.controlPlane],
    ['etcd', input.etcd],
    ['nodes', input.nodes],
  ] as const) {
    const seen = new Set<string>();
    for (const h of hosts) {
      if (seen.has(h.name)) {
        throw new KprovError('pki', `invalid PKI input: ${role}: host ${h.name} is listed twice`, {
          location: { file: source },
        });
      }
      seen.add(h.name);
    }
  }
  const members = new Set<string>();
  for (const h of input.etcd) {
    if (members.has(h.memberName)) {
      throw new KprovError('pki', `invalid PKI input: etcd: member name ${h.memberName} is used twice`, {
        location: { file: source },
      });
    }
    members.add(h.memberName);
  }
  return input;
}
