/**
 * Kubeconfig files as client-go reads them: the current context's cluster and user, with file
 * paths resolved against the kubeconfig's own directory and every referenced file checked.
 */
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configError } from './errors.js';
import { checkKeyPair, parseCertificates, readFileFor, subjectIdentity, type Origin } from './files.js';

const clusterSchema = z.object({
  server: z.string().optional(),
  'certificate-authority': z.string().optional(),
  'certificate-authority-data': z.string().optional(),
  'insecure-skip-tls-verify': z.boolean().optional(),
});
const userSchema = z.object({
  'client-certificate': z.string().optional(),
  'client-certificate-data': z.string().optional(),
  'client-key': z.string().optional(),
  'client-key-data': z.string().optional(),
  token: z.string().optional(),
  tokenFile: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
});
const kubeconfigSchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  'current-context': z.string().optional(),
  clusters: z.array(z.object({ name: z.string(), cluster: clusterSchema })).nullish(),
  users: z.array(z.object({ name: z.string(), user: userSchema })).nullish(),
  contexts: z
    .array(z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string().optional(), namespace: z.string().optional() }) }))
    .nullish(),
});

export interface ClientIdentity {
  user: string;
  groups: string[];
}

/** Everything needed to talk to an apiserver, read from one kubeconfig. */
export interface ClientConfig {
  /** Where it came from, for messages: `--kubeconfig=/etc/kubernetes/kubelet.conf`. */
  origin: Origin;
  server: URL;
  ca?: Buffer;
  insecureSkipVerify: boolean;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  basicAuth?: { username: string; password: string };
  /** CN/O of the client certificate, when the credentials are a certificate. */
  certIdentity?: ClientIdentity;
}

function decodeData(origin: Origin, field: string, data: string): Buffer {
  const buf = Buffer.from(data, 'base64');
  if (buf.length === 0) throw configError(`${origin}: ${field}: illegal base64 data`);
  return buf;
}

/**
 * Reads `file` (named by `origin`, e.g. `--kubeconfig`) and resolves its current context.
 * `masterOverride` is the component's `--master`, which wins over the file's server.
 */
export function loadKubeconfig(origin: Origin, file: string, masterOverride?: string): ClientConfig {
  const where = `${origin}=${file}`;
  const text = readFileFor(origin, file).toString('utf8');
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw configError(`${where}: error loading config file: ${(err as Error).message}`);
  }
  if (raw === null || raw === undefined) throw configError(`${where}: invalid configuration: no configuration has been provided`);
  const parsed = kubeconfigSchema.safeParse(raw);
  if (!parsed.success) throw configError(`${where}: error loading config file: ${parsed.error.issues[0]?.message ?? 'invalid'} at ${parsed.error.issues[0]?.path.join('.') ?? ''}`);
  const cfg = parsed.data;
  if (cfg.kind !== undefined && cfg.kind !== 'Config') {
    throw configError(`${where}: error loading config file: no kind "${cfg.kind}" is registered for version "${cfg.apiVersion ?? ''}"`);
  }
  if (cfg.apiVersion !== undefined && cfg.apiVersion !== 'v1') {
    throw configError(`${where}: error loading config file: no kind "Config" is registered for version "${cfg.apiVersion}"`);
  }
  const contextName = cfg['current-context'] ?? '';
  const context = cfg.contexts?.find((c) => c.name === contextName)?.context;
  if (!context) {
    throw configError(
      contextName === ''
        ? `${where}: invalid configuration: no configuration has been provided`
        : `${where}: invalid configuration: context was not found for specified context: ${contextName}`,
    );
  }
  const cluster = cfg.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster) throw configError(`${where}: invalid configuration: cluster "${context.cluster}" not found for context "${contextName}"`);
  const user = context.user === undefined ? {} : cfg.users?.find((u) => u.name === context.user)?.user;
  if (!user) throw configError(`${where}: invalid configuration: user "${context.user}" not found for context "${contextName}"`);

  const serverText = masterOverride && masterOverride !== '' ? masterOverride : cluster.server;
  if (!serverText) throw configError(`${where}: invalid configuration: no server found for cluster "${context.cluster}"`);
  let server: URL;
  try {
    server = new URL(serverText);
  } catch {
    throw configError(`${where}: invalid configuration: server "${serverText}" is not a URL`);
  }
  const dir = path.dirname(path.resolve(file));
  const resolve = (p: string) => (path.isAbsolute(p) ? p : path.join(dir, p));
  const fieldOrigin = (field: string) => `${where}: ${field}`;

  const out: ClientConfig = { origin: where, server, insecureSkipVerify: cluster['insecure-skip-tls-verify'] ?? false };
  if (cluster['certificate-authority-data']) {
    out.ca = decodeData(where, 'certificate-authority-data', cluster['certificate-authority-data']);
    parseCertificates(where, 'certificate-authority-data', out.ca);
  } else if (cluster['certificate-authority']) {
    const p = resolve(cluster['certificate-authority']);
    out.ca = readFileFor(fieldOrigin('certificate-authority'), p);
    parseCertificates(where, `certificate-authority ${p}`, out.ca);
  }

  const certData = user['client-certificate-data']
    ? { label: 'client-certificate-data', data: decodeData(where, 'client-certificate-data', user['client-certificate-data']) }
    : user['client-certificate']
      ? { label: `client-certificate ${resolve(user['client-certificate'])}`, data: readFileFor(fieldOrigin('client-certificate'), resolve(user['client-certificate'])) }
      : undefined;
  const keyData = user['client-key-data']
    ? { label: 'client-key-data', data: decodeData(where, 'client-key-data', user['client-key-data']) }
    : user['client-key']
      ? { label: `client-key ${resolve(user['client-key'])}`, data: readFileFor(fieldOrigin('client-key'), resolve(user['client-key'])) }
      : undefined;
  if (certData && !keyData) throw configError(`${where}: invalid configuration: client-cert-data and client-cert are both specified but client-key is missing`);
  if (keyData && !certData) throw configError(`${where}: invalid configuration: client-key given without client-certificate`);
  if (certData && keyData) {
    const pair = checkKeyPair(where, certData.label, certData.data, where, keyData.label, keyData.data);
    out.cert = pair.certPem;
    out.key = pair.keyPem;
    out.certIdentity = subjectIdentity(pair.cert);
  }
  if (user.token) out.token = user.token;
  else if (user.tokenFile) out.token = readFileFor(fieldOrigin('tokenFile'), resolve(user.tokenFile)).toString('utf8').trim();
  if (user.username !== undefined && user.password !== undefined) out.basicAuth = { username: user.username, password: user.password };
  return out;
}
