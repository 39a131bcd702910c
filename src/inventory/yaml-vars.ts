/**
 * group_vars / host_vars files: one YAML mapping of variable names to values, read as Ansible
 * reads them (YAML 1.1: `yes`/`no` are booleans, `0755` is octal; `<<` merge keys; `!unsafe`
 * strings are never templated). Every variable keeps the line it was defined on.
 */
import { isMap, isScalar, LineCounter, parseDocument, type Pair, type ScalarTag, type Tags } from 'yaml';
import { KprovError, type SourceLocation } from '../errors.js';
import type { InventoryWarning } from './model.js';
import { readInventoryText } from './read-text.js';

/** A string marked `!unsafe`: used as written, never evaluated as an expression. */
export class UnsafeText {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
  toJSON(): string {
    return this.text;
  }
}

/** Ansible-vault values cannot be decrypted here; they are reported where they are. */
export class VaultValue {}

const unsafeTag: ScalarTag = {
  tag: '!unsafe',
  resolve: (text: string) => new UnsafeText(text),
};
const vaultTag: ScalarTag = {
  tag: '!vault',
  resolve: () => new VaultValue(),
};

/**
 * YAML 1.1 as PyYAML (and so Ansible) reads it: unlike the YAML 1.1 spec, PyYAML does not take
 * y/Y/n/N for booleans, so `y: 1` is the key "y".
 */
const PYYAML_BOOL: Readonly<Record<string, RegExp>> = {
  true: /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/,
  false: /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/,
};

/** The tags Ansible's YAML reading has: PyYAML's booleans, `!unsafe` and `!vault`. */
export function pyYamlTags(tags: Tags): Tags {
  const adjusted = tags.map((t) => {
    if (typeof t !== 'object' || t.tag !== 'tag:yaml.org,2002:bool' || !('test' in t) || !t.test) return t;
    const which = t.test.test('true') ? 'true' : 'false';
    return { ...t, test: PYYAML_BOOL[which]! };
  });
  return [...adjusted, unsafeTag, vaultTag];
}

export interface FileVar {
  key: string;
  value: unknown;
  location: SourceLocation & { line: number };
}

export interface VarsFile {
  file: string;
  vars: FileVar[];
  warnings: InventoryWarning[];
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** First line of a yaml error message, without its "at line L, column C" suffix. */
export function shortYamlMessage(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').trim();
}

export async function loadVarsFile(file: string): Promise<VarsFile> {
  const text = await readInventoryText(file);
  return parseVarsFile(text, file);
}

export function parseVarsFile(text: string, file: string): VarsFile {
  if (text.trimStart().startsWith('$ANSIBLE_VAULT')) {
    throw new KprovError('inventory', 'the file is encrypted with ansible-vault, which kprov cannot read', {
      location: { file, line: 1 },
      hint: 'decrypt it (ansible-vault decrypt) or move the secrets out of the inventory',
    });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    version: '1.1',
    uniqueKeys: false,
    merge: true,
    customTags: pyYamlTags,
    lineCounter,
    prettyErrors: true,
  });
  const firstError = doc.errors[0];
  if (firstError) {
    const pos = firstError.linePos?.[0];
    throw new KprovError('inventory', `YAML syntax error: ${shortYamlMessage(firstError.message)}`, {
      location: pos ? { file, line: pos.line, column: pos.col } : { file },
    });
  }
  const at = (offset: number | undefined) => {
    const pos = lineCounter.linePos(offset ?? 0);
    return { file, line: pos.line, column: pos.col };
  };
  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && (contents.value === null || contents.value === ''))) {
    return { file, vars: [], warnings: [] };
  }
  if (!isMap(contents)) {
    const found = Array.isArray(contents.toJSON()) ? 'a list' : `"${String(contents.toJSON())}"`;
    throw new KprovError('inventory', `expected a mapping of variable names to values, found ${found}`, {
      location: at(contents.range?.[0]),
    });
  }
  let values: Record<string, unknown>;
  try {
    values = doc.toJS({ maxAliasCount: 1000 }) as Record<string, unknown>;
  } catch (err) {
    throw new KprovError('inventory', `YAML error: ${err instanceof Error ? err.message : String(err)}`, { location: { file } });
  }
  const warnings: InventoryWarning[] = [];
  const located = new Map<string, FileVar['location']>();
  const mergeLocations: FileVar['location'][] = [];
  for (const pair of contents.items as Pair[]) {
    const keyNode = pair.key;
    const keyValue = isScalar(keyNode) ? keyNode.value : keyNode;
    const where = at(isScalar(keyNode) ? keyNode.range?.[0] : undefined);
    if (typeof keyValue === 'symbol' || keyValue === '<<') {
      mergeLocations.push(where);
      continue;
    }
    if (typeof keyValue !== 'string' || !VAR_NAME.test(keyValue)) {
      throw new KprovError('inventory', `invalid variable name ${JSON.stringify(keyValue)}; expected letters, digits and _`, {
        location: where,
      });
    }
    const earlier = located.get(keyValue);
    if (earlier) {
      warnings.push({
        code: 'duplicate-key',
        message: `${keyValue} is defined twice in this file (also on line ${earlier.line}); the later value wins`,
        location: where,
      });
    }
    located.set(keyValue, where);
  }
  const vars: FileVar[] = [];
  for (const [key, value] of Object.entries(values)) {
    const location = located.get(key) ?? mergeLocations[0] ?? { file, line: 1 };
    if (!VAR_NAME.test(key)) {
      throw new KprovError('inventory', `invalid variable name ${JSON.stringify(key)}; expected letters, digits and _`, { location });
    }
    if (containsVault(value)) {
      throw new KprovError('inventory', `${key} is an ansible-vault encrypted value, which kprov cannot read`, {
        location,
        hint: 'put the plain value in the inventory, or leave the variable out',
      });
    }
    vars.push({ key, value, location });
  }
  vars.sort((a, b) => a.location.line - b.location.line);
  return { file, vars, warnings };
}

function containsVault(value: unknown): boolean {
  if (value instanceof VaultValue) return true;
  if (Array.isArray(value)) return value.some(containsVault);
  if (value !== null && typeof value === 'object' && !(value instanceof UnsafeText) && !(value instanceof Date)) {
    return Object.values(value).some(containsVault);
  }
  return false;
}
