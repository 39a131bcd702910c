/**
 * Ansible's extra variables (`-e/--extra-vars`), the highest precedence of all: `key=value …`
 * (values are strings, as Ansible reads them), a JSON or YAML mapping (`-e '{"k": 1}'`), or
 * `@file` (a YAML or JSON file, its lines named in errors). Each value remembers which `-e` it
 * came from, so an error says so.
 */
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { KprovError, type SourceLocation } from '../errors.js';
import { tokenizeHostLine } from './ini-tokenize.js';
import { loadVarsFile } from './yaml-vars.js';

export interface ExtraVar {
  key: string;
  value: unknown;
  location: SourceLocation;
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The variables of every `-e` given, in order (a later one wins). */
export async function parseExtraVars(values: readonly string[], cwd: string): Promise<ExtraVar[]> {
  const out: ExtraVar[] = [];
  for (const [i, raw] of values.entries()) {
    const where: SourceLocation = { file: `-e #${i + 1} (${raw.length > 40 ? `${raw.slice(0, 37)}…` : raw})` };
    const text = raw.trim();
    if (text.startsWith('@')) {
      const file = path.resolve(cwd, text.slice(1));
      const loaded = await loadVarsFile(file).catch((err: unknown) => {
        throw err instanceof KprovError ? err : new KprovError('usage', `-e ${text}: cannot read ${file}`, { cause: err });
      });
      out.push(...loaded.vars.map((v) => ({ key: v.key, value: v.value, location: v.location })));
    } else if (text.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = parseYaml(text);
      } catch (err) {
        throw new KprovError('usage', `-e ${text}: not a JSON or YAML mapping: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new KprovError('usage', `-e ${text}: expected a mapping of variable names to values`);
      for (const [key, value] of Object.entries(parsed)) out.push({ key: checkedName(key, raw), value, location: where });
    } else {
      for (const token of tokenizeHostLine(text, { file: where.file, line: 1 })) {
        const eq = token.text.indexOf('=');
        if (eq <= 0) {
          throw new KprovError('usage', `-e ${raw}: expected key=value, found "${token.text}"`, {
            hint: 'as in Ansible: -e key=value, -e \'{"key": value}\' or -e @file.yml',
          });
        }
        out.push({ key: checkedName(token.text.slice(0, eq), raw), value: token.text.slice(eq + 1), location: where });
      }
    }
  }
  return out;
}

function checkedName(key: string, raw: string): string {
  if (!VAR_NAME.test(key)) throw new KprovError('usage', `-e ${raw}: invalid variable name ${JSON.stringify(key)}; expected letters, digits and _`);
  return key;
}
