/** The lab's small JSON files (state.json, lab.json): read and validated once, at the edge. */
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { KprovError, type ErrorCode } from '../errors.js';

/** The file's validated content, or undefined when it (or its directory) does not exist. */
export async function readJsonFile<S extends z.ZodType>(
  file: string,
  schema: S,
  describe: { code: ErrorCode; what: string; mismatch?: string },
): Promise<z.output<S> | undefined> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
    throw err;
  });
  if (text === undefined) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new KprovError(describe.code, `${describe.what} is not valid JSON`, { location: { file } });
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new KprovError(describe.code, `${describe.mismatch ?? describe.what}: ${issue?.path.join('.')}: ${issue?.message}`, { location: { file } });
  }
  return parsed.data;
}
