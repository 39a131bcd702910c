/**
 * How a stand-in fails. `config` errors are what cobra prints as `Error: …` before exit 1 (bad flags,
 * files, configs: the component never started). `fatal` errors are klog.Fatal lines, exit 255, as a
 * real component dies at run time (storage unreachable, leader election lost).
 */
export class StandinError extends Error {
  override readonly name = 'StandinError';
  constructor(
    message: string,
    readonly kind: 'config' | 'fatal' = 'config',
  ) {
    super(message);
  }
}

export const configError = (message: string) => new StandinError(message, 'config');
export const fatalError = (message: string) => new StandinError(message, 'fatal');

/** Go's wording for TLS failures, which operators know from real component logs. */
const tlsWording: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'x509: certificate signed by unknown authority',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'x509: certificate signed by unknown authority',
  SELF_SIGNED_CERT_IN_CHAIN: 'x509: certificate signed by unknown authority',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'x509: certificate signed by unknown authority',
  CERT_HAS_EXPIRED: 'x509: certificate has expired or is not yet valid',
  CERT_NOT_YET_VALID: 'x509: certificate has expired or is not yet valid',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'remote error: tls: bad certificate',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'remote error: tls: certificate required',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'remote error: tls: unknown certificate authority',
};

/** The message of anything thrown, without a stack. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const known = tlsWording[(err as NodeJS.ErrnoException).code ?? ''];
    if (known) return `${known} (${(err as NodeJS.ErrnoException).code})`;
    if ((err as NodeJS.ErrnoException).code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `x509: ${err.message}`;
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
