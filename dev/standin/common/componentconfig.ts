/**
 * Component configuration files (`--config`): YAML or JSON whose kind and apiVersion must be the
 * one the v1.13 component decodes; fields are checked by the caller's zod schema.
 */
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configError } from './errors.js';
import { readFileFor } from './files.js';

export function loadComponentConfig<S extends z.ZodType>(
  flag: string,
  path: string,
  expected: { kind: string; apiVersion: string },
  schema: S,
): z.infer<S> {
  const where = `${flag}=${path}`;
  let raw: unknown;
  try {
    raw = parseYaml(readFileFor(flag, path).toString('utf8'));
  } catch (err) {
    if (err instanceof Error && err.name === 'StandinError') throw err;
    throw configError(`${where}: failed to decode: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError(`${where}: failed to decode: Object 'Kind' is missing in '${String(raw)}'`);
  }
  const obj = raw as Record<string, unknown>;
  if (typeof obj.kind !== 'string' || obj.kind === '') throw configError(`${where}: failed to decode: Object 'Kind' is missing`);
  if (obj.apiVersion !== expected.apiVersion || obj.kind !== expected.kind) {
    throw configError(
      `${where}: failed to decode: no kind "${String(obj.kind)}" is registered for version "${String(obj.apiVersion ?? '')}"` +
        ` (this component reads kind ${expected.kind}, apiVersion ${expected.apiVersion})`,
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw configError(`${where}: invalid ${expected.kind}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
