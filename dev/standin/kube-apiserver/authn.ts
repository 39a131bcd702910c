/**
 * Who is asking: an x509 client certificate verified against --client-ca-file (CN is the user, each
 * O a group), a bearer token from --token-auth-file or a service-account JWT signed with a
 * --service-account-key-file key (with --service-account-lookup: its secret and service account
 * must still exist and match), basic auth from --basic-auth-file, or the anonymous user when
 * --anonymous-auth allows it.
 */
import type { KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { verifyServiceAccountToken, type ServiceAccountClaims } from '../common/serviceaccount-token.js';
import type { Registry } from './registry.js';
import { findResource } from './resources.js';

export interface UserInfo {
  name: string;
  groups: string[];
}

export interface StaticUser {
  name: string;
  uid: string;
  groups: string[];
}

export interface AuthnConfig {
  /** Client certificates are only looked at when --client-ca-file is set. */
  clientCertAuth: boolean;
  anonymousAuth: boolean;
  tokens: ReadonlyMap<string, StaticUser>;
  /** user name → password and identity, from --basic-auth-file. */
  basicUsers: ReadonlyMap<string, StaticUser & { password: string }>;
  serviceAccountKeys: readonly KeyObject[];
  serviceAccountLookup: boolean;
}

export const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };
/** What the insecure port treats every request as (v1.13: a superuser). */
export const INSECURE_USER: UserInfo = { name: 'system:unsecured', groups: ['system:masters', 'system:authenticated'] };

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The service account's user, or why the token no longer counts (v1.13's legacy validator with lookup). */
async function serviceAccountUser(registry: Registry, lookup: boolean, token: string, c: ServiceAccountClaims): Promise<UserInfo | { unauthorized: string }> {
  if (lookup) {
    const secret = await registry.lookup(findResource('secrets')!, c.namespace, c.secretName).catch(() => undefined);
    if (!secret || secret.metadata?.deletionTimestamp) return { unauthorized: 'Token has been invalidated' };
    const data = (secret.data ?? {}) as Record<string, unknown>;
    if (typeof data.token !== 'string' || Buffer.from(data.token, 'base64').toString('utf8') !== token) return { unauthorized: "Token does not match server's copy" };
    const sa = await registry.lookup(findResource('serviceaccounts')!, c.namespace, c.serviceAccountName).catch(() => undefined);
    if (!sa || sa.metadata?.deletionTimestamp) return { unauthorized: 'ServiceAccount has been deleted' };
    if (c.serviceAccountUID !== '' && sa.metadata?.uid !== c.serviceAccountUID) return { unauthorized: 'ServiceAccount UID does not match claim' };
  }
  return {
    name: `system:serviceaccount:${c.namespace}:${c.serviceAccountName}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${c.namespace}`, 'system:authenticated'],
  };
}

/** The user, or a reason for 401 Unauthorized. */
export async function authenticate(cfg: AuthnConfig, req: IncomingMessage, registry: Registry): Promise<UserInfo | { unauthorized: string }> {
  const socket = req.socket as TLSSocket;
  if (cfg.clientCertAuth && socket.encrypted) {
    const peer = socket.getPeerCertificate();
    if (peer && Object.keys(peer).length > 0) {
      if (!socket.authorized) return { unauthorized: `x509: ${String(socket.authorizationError)}` };
      const cn = asList(peer.subject?.CN as string | string[] | undefined)[0] ?? '';
      const groups = asList(peer.subject?.O as string | string[] | undefined);
      return { name: cn, groups: [...groups, 'system:authenticated'] };
    }
  }
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) {
    const token = header.slice(7).trim();
    const user = cfg.tokens.get(token);
    if (!user) {
      const claims = cfg.serviceAccountKeys.length > 0 ? verifyServiceAccountToken(cfg.serviceAccountKeys, token) : undefined;
      if (claims) return serviceAccountUser(registry, cfg.serviceAccountLookup, token, claims);
      return { unauthorized: 'invalid bearer token' };
    }
    return { name: user.name, groups: [...user.groups, 'system:authenticated'] };
  }
  if (header?.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = cfg.basicUsers.get(decoded.slice(0, colon));
    if (!user || user.password !== decoded.slice(colon + 1)) return { unauthorized: 'invalid basic auth' };
    return { name: user.name, groups: [...user.groups, 'system:authenticated'] };
  }
  if (cfg.anonymousAuth) return ANONYMOUS;
  return { unauthorized: 'no credentials' };
}

/** Rows of a --token-auth-file or --basic-auth-file: `secret,user,uid[,"group1,group2"]`. */
export function parseCsvRows(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const cells: string[] = [];
    let cell = '';
    let quoted = false;
    for (const ch of line) {
      if (ch === '"') quoted = !quoted;
      else if (ch === ',' && !quoted) {
        cells.push(cell);
        cell = '';
      } else cell += ch;
    }
    cells.push(cell);
    rows.push(cells.map((c) => c.trim()));
  }
  return rows;
}
