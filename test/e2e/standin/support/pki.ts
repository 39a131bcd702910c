/**
 * Test certificates made with the real `openssl` CLI: CAs and leaf certificates with the CN/O,
 * SANs and key usages the cluster's components expect. EC P-256 keys keep it fast.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface LeafSpec {
  cn: string;
  o?: string[];
  dns?: string[];
  ip?: string[];
  usage: 'server' | 'client' | 'both';
}

export class TestPki {
  private constructor(readonly dir: string) {}

  static async create(dir: string): Promise<TestPki> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new TestPki(dir);
  }

  private async key(file: string): Promise<void> {
    await execa('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  }

  async ca(name: string, cn: string): Promise<CertFiles> {
    const cert = path.join(this.dir, `${name}.crt`);
    const key = path.join(this.dir, `${name}.key`);
    const cnf = path.join(this.dir, `${name}.cnf`);
    await this.key(key);
    await writeFile(
      cnf,
      `[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = ${cn}\n[v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier = hash\n`,
    );
    await execa('openssl', ['req', '-x509', '-new', '-key', key, '-config', cnf, '-extensions', 'v3_ca', '-days', '30', '-out', cert]);
    return { cert, key };
  }

  async issue(ca: CertFiles, name: string, spec: LeafSpec): Promise<CertFiles> {
    const cert = path.join(this.dir, `${name}.crt`);
    const key = path.join(this.dir, `${name}.key`);
    const csr = path.join(this.dir, `${name}.csr`);
    const ext = path.join(this.dir, `${name}.ext`);
    await this.key(key);
    const subject = `/CN=${spec.cn}${(spec.o ?? []).map((o) => `/O=${o}`).join('')}`;
    await execa('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
    const eku = spec.usage === 'server' ? 'serverAuth' : spec.usage === 'client' ? 'clientAuth' : 'serverAuth,clientAuth';
    const sans = [...(spec.dns ?? []).map((d) => `DNS:${d}`), ...(spec.ip ?? []).map((i) => `IP:${i}`)];
    await writeFile(
      ext,
      `[ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = ${eku}\nauthorityKeyIdentifier = keyid\n${sans.length > 0 ? `subjectAltName = ${sans.join(',')}\n` : ''}`,
    );
    await execa('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '30', '-extfile', ext, '-extensions', 'ext', '-out', cert]);
    return { cert, key };
  }
}

/** A kubeconfig for `server`, with file paths or embedded data. */
export async function writeKubeconfig(
  file: string,
  opts: { server: string; ca: string; client?: CertFiles; token?: string; embed?: boolean },
): Promise<string> {
  const b64 = async (p: string) => (await readFile(p)).toString('base64');
  const cluster = opts.embed ? { server: opts.server, 'certificate-authority-data': await b64(opts.ca) } : { server: opts.server, 'certificate-authority': opts.ca };
  const user: Record<string, string> = {};
  if (opts.client) {
    if (opts.embed) {
      user['client-certificate-data'] = await b64(opts.client.cert);
      user['client-key-data'] = await b64(opts.client.key);
    } else {
      user['client-certificate'] = opts.client.cert;
      user['client-key'] = opts.client.key;
    }
  }
  if (opts.token) user.token = opts.token;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lab', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'u' } }],
    'current-context': 'lab',
  };
  await writeFile(file, toYaml(doc), { mode: 0o600 });
  return file;
}
