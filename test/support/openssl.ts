/** The real openssl CLI, for checking what kprov issued against an independent implementation. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export async function openssl(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('openssl', args, { timeout: 30_000 });
  return stdout;
}

/** An IP as OpenSSL prints it (IPv6 expanded, upper case) in the canonical compressed form. */
export function normalizeIp(ip: string): string {
  return ip.includes(':') ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}
