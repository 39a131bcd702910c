/**
 * Tests that run a real program skip, saying which one and where it comes from, when it is not
 * installed. (Under CI as root, test/run.ts counts such a skip as a failure.)
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** The Debian package that installs each program the tests run. */
const DEBIAN_PACKAGE: Record<string, string> = {
  openssl: 'openssl',
  'ssh-keygen': 'openssh-client',
  curl: 'curl',
  etcd: 'etcd-server',
  etcdctl: 'etcd-client',
  kubectl: 'kubernetes-client',
};

function onPath(name: string): boolean {
  return (process.env['PATH'] ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir || '.', name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Test options: skipped with the reason when any of these programs is missing from PATH. */
export function needsCommands(...names: string[]): { skip: string | false } {
  const missing = names.filter((n) => !onPath(n));
  if (missing.length === 0) return { skip: false };
  const packages = [...new Set(missing.map((n) => DEBIAN_PACKAGE[n] ?? n))];
  return { skip: `needs ${missing.join(', ')} on PATH (Debian: apt-get install ${packages.join(' ')})` };
}
