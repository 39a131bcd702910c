/**
 * Who is asking: an x509 client certificate verified against --client-ca-file (CN is the user, each
 * O a group), a bearer token from --token-auth-file, basic auth from --basic-auth-file, or the
 * anonymous user when --anonymous-auth allows it.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

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
}

export const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };
/** What the insecure port treats every request as (v1.13: a superuser). */
export const INSECURE_USER: UserInfo = { name: 'system:unsecured', groups: ['system:masters', 'system:authenticated'] };

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The user, or a reason for 401 Unauthorized. */
export function authenticate(cfg: AuthnConfig, req: IncomingMessage): UserInfo | { unauthorized: string } {
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
    const user = cfg.tokens.get(header.slice(7).trim());
    if (!user) return { unauthorized: 'invalid bearer token' };
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
