/**
 * Secrets as v1.13 stores them: `stringData` is written into `data` (base64) and not kept, the type
 * defaults to Opaque, every `data` value must be base64, and a service-account token secret must
 * name its account (the kubernetes.io/service-account.name annotation).
 */
import { StatusError, type Obj, type Strategy } from './registry.js';

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {});
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function normalizeSecret(secret: Obj): Obj {
  const name = String(secret.metadata?.name ?? '');
  const { stringData, ...rest } = secret;
  const data: Rec = { ...rec(rest.data) };
  for (const [k, v] of Object.entries(rec(stringData))) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  const causes: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== 'string' || !BASE64.test(v)) causes.push(`data[${k}]: Invalid value: "${String(v)}": illegal base64 data`);
  }
  const type = typeof rest.type === 'string' && rest.type !== '' ? rest.type : 'Opaque';
  if (type === 'kubernetes.io/service-account-token' && !rec(secret.metadata?.annotations)['kubernetes.io/service-account.name']) {
    causes.push('metadata.annotations[kubernetes.io/service-account.name]: Required value');
  }
  if (causes.length > 0) throw new StatusError(422, 'Invalid', `Secret "${name}" is invalid: ${causes.length === 1 ? causes[0]! : `[${causes.join(', ')}]`}`, { name, kind: 'Secret' });
  return { ...rest, type, ...(Object.keys(data).length > 0 ? { data } : {}) };
}

export const secretStrategy: Strategy = {
  prepareForCreate: normalizeSecret,
  prepareForUpdate: (next, current) => {
    const out = normalizeSecret(next);
    if (out.type !== (current.type ?? 'Opaque')) {
      throw new StatusError(422, 'Invalid', `Secret "${String(current.metadata?.name)}" is invalid: type: Invalid value: "${String(out.type)}": field is immutable`, { name: current.metadata?.name, kind: 'Secret' });
    }
    return out;
  },
};
