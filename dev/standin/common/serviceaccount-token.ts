/**
 * Service-account tokens as v1.13's legacy token generator writes them: RS256 JWTs (header
 * `{"alg":"RS256","kid":""}`) with the `kubernetes/serviceaccount` issuer and the namespace,
 * secret name, service-account name and uid claims. Signed by the controller-manager
 * (--service-account-private-key-file), verified by the apiserver (--service-account-key-file).
 */
import { createSign, createVerify, type KeyObject } from 'node:crypto';

export const LEGACY_ISSUER = 'kubernetes/serviceaccount';

export interface ServiceAccountClaims {
  namespace: string;
  secretName: string;
  serviceAccountName: string;
  serviceAccountUID: string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export function signServiceAccountToken(key: KeyObject, c: ServiceAccountClaims): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', kid: '' }));
  const payload = b64url(
    JSON.stringify({
      iss: LEGACY_ISSUER,
      'kubernetes.io/serviceaccount/namespace': c.namespace,
      'kubernetes.io/serviceaccount/secret.name': c.secretName,
      'kubernetes.io/serviceaccount/service-account.name': c.serviceAccountName,
      'kubernetes.io/serviceaccount/service-account.uid': c.serviceAccountUID,
      sub: `system:serviceaccount:${c.namespace}:${c.serviceAccountName}`,
    }),
  );
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${payload}`);
  return `${header}.${payload}.${b64url(signer.sign(key))}`;
}

/**
 * The claims of a token signed by one of `keys` with the legacy issuer, or undefined when it is
 * not one (another issuer, bad signature, missing claims: the next authenticator may know it).
 */
export function verifyServiceAccountToken(keys: readonly KeyObject[], token: string): ServiceAccountClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, sig] = parts as [string, string, string];
  let header: { alg?: unknown };
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: unknown };
    payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (header.alg !== 'RS256' || payload.iss !== LEGACY_ISSUER) return undefined;
  const signature = Buffer.from(sig, 'base64url');
  const ok = keys.some((key) => {
    try {
      const v = createVerify('RSA-SHA256');
      v.update(`${h}.${p}`);
      return v.verify(key, signature);
    } catch {
      return false;
    }
  });
  if (!ok) return undefined;
  const str = (k: string) => (typeof payload[`kubernetes.io/serviceaccount/${k}`] === 'string' ? (payload[`kubernetes.io/serviceaccount/${k}`] as string) : '');
  const claims = { namespace: str('namespace'), secretName: str('secret.name'), serviceAccountName: str('service-account.name'), serviceAccountUID: str('service-account.uid') };
  if (claims.namespace === '' || claims.secretName === '' || claims.serviceAccountName === '') return undefined;
  return claims;
}
