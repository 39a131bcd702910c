/**
 * The serviceaccount controller (a `default` ServiceAccount in every active namespace) and the
 * token controller (v1.13 serviceaccounts-token): every ServiceAccount gets a Secret
 * `<sa>-token-xxxxx` of type kubernetes.io/service-account-token, annotated with the account's name
 * and uid, holding `token` (a JWT signed with --service-account-private-key-file), `ca.crt`
 * (--root-ca-file) and `namespace`, and listed in the account's `secrets`; token secrets whose
 * account is gone (or was recreated with another uid) are deleted.
 */
import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import type { ApiClient } from '../common/client.js';
import { ApiError } from '../common/client.js';
import type { Logger } from '../common/klog.js';
import { signServiceAccountToken } from '../common/serviceaccount-token.js';
import { runController, controllerManagerResyncMs, type ControllerLoop } from '../common/watch-loop.js';
import { arr, groupByNamespace, listItems, meta, nameOf, namespaceOf, rec, uidOf, type Rec } from './objects.js';

const TOKEN_TYPE = 'kubernetes.io/service-account-token';
const NAME_ANNOTATION = 'kubernetes.io/service-account.name';
const UID_ANNOTATION = 'kubernetes.io/service-account.uid';
const SAFE = 'bcdfghjklmnpqrstvwxz2456789';
const suffix = () => [...randomBytes(5)].map((b) => SAFE[b % SAFE.length]).join('');
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

const ignore404 = (err: unknown) => {
  if (!(err instanceof ApiError && (err.status === 404 || err.status === 409))) throw err;
};

export function startServiceAccountController(client: ApiClient, log: Logger): ControllerLoop {
  return runController('serviceaccount', client, log, ['/api/v1/namespaces', '/api/v1/serviceaccounts'], async () => {
    const [namespaces, accounts] = await Promise.all([listItems(client, '/api/v1/namespaces'), listItems(client, '/api/v1/serviceaccounts')]);
    for (const ns of namespaces) {
      if (rec(ns.status).phase === 'Terminating' || meta(ns).deletionTimestamp) continue;
      const name = nameOf(ns);
      if (accounts.some((a) => namespaceOf(a) === name && nameOf(a) === 'default')) continue;
      await client.call('POST', `/api/v1/namespaces/${name}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: name } }).catch(ignore404);
      log.info(`Created ServiceAccount ${name}/default`);
    }
  }, controllerManagerResyncMs());
}

/** Whether a secret is the live token secret of this account. */
export function isTokenFor(secret: Rec, sa: Rec): boolean {
  const ann = rec(meta(secret).annotations);
  return secret.type === TOKEN_TYPE && ann[NAME_ANNOTATION] === nameOf(sa) && ann[UID_ANNOTATION] === uidOf(sa);
}

/** The token Secret of an account, with its signed token. */
export function tokenSecretFor(sa: Rec, secretName: string, key: KeyObject, rootCA: Buffer | undefined): Rec {
  const ns = namespaceOf(sa);
  const token = signServiceAccountToken(key, { namespace: ns, secretName, serviceAccountName: nameOf(sa), serviceAccountUID: uidOf(sa) });
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secretName, namespace: ns, annotations: { [NAME_ANNOTATION]: nameOf(sa), [UID_ANNOTATION]: uidOf(sa) } },
    type: TOKEN_TYPE,
    data: { token: b64(token), ...(rootCA ? { 'ca.crt': b64(rootCA) } : {}), namespace: b64(ns) },
  };
}

async function ensureToken(client: ApiClient, log: Logger, sa: Rec, secrets: Rec[], key: KeyObject, rootCA: Buffer | undefined): Promise<void> {
  const ns = namespaceOf(sa);
  const refs = arr(sa.secrets).map((r) => String(r.name ?? ''));
  if (secrets.some((s) => isTokenFor(s, sa) && refs.includes(nameOf(s)))) return;
  const existing = secrets.find((s) => isTokenFor(s, sa));
  let secretName = existing ? nameOf(existing) : undefined;
  if (secretName === undefined) {
    secretName = `${nameOf(sa)}-token-${suffix()}`;
    await client.call('POST', `/api/v1/namespaces/${ns}/secrets`, tokenSecretFor(sa, secretName, key, rootCA));
    log.info(`Created token secret ${ns}/${secretName} for ServiceAccount ${nameOf(sa)}`);
  }
  // Add the reference with the account's resourceVersion: a concurrent change conflicts and the next round sees it.
  await client.call('PUT', `/api/v1/namespaces/${ns}/serviceaccounts/${nameOf(sa)}`, { ...sa, secrets: [...arr(sa.secrets), { name: secretName }] }).catch(ignore404);
}

export function startTokenController(client: ApiClient, log: Logger, key: KeyObject, rootCA: Buffer | undefined): ControllerLoop {
  return runController('serviceaccount-token', client, log, ['/api/v1/serviceaccounts', `/api/v1/secrets?fieldSelector=${encodeURIComponent(`type=${TOKEN_TYPE}`)}`], async () => {
    const [accounts, secrets] = await Promise.all([listItems(client, '/api/v1/serviceaccounts'), listItems(client, '/api/v1/secrets')]);
    const secretsByNs = groupByNamespace(secrets.filter((s) => s.type === TOKEN_TYPE));
    for (const sa of accounts) await ensureToken(client, log, sa, secretsByNs.get(namespaceOf(sa)) ?? [], key, rootCA);
    for (const secret of secrets.filter((s) => s.type === TOKEN_TYPE)) {
      const ann = rec(meta(secret).annotations);
      const owner = accounts.find((a) => namespaceOf(a) === namespaceOf(secret) && nameOf(a) === ann[NAME_ANNOTATION]);
      if (owner && uidOf(owner) === ann[UID_ANNOTATION]) continue;
      await client.call('DELETE', `/api/v1/namespaces/${namespaceOf(secret)}/secrets/${nameOf(secret)}`).catch(ignore404);
      log.info(`Deleted token secret ${namespaceOf(secret)}/${nameOf(secret)}: its ServiceAccount is gone`);
    }
  }, controllerManagerResyncMs());
}
