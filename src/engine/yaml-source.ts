/**
 * Parses a YAML file keeping its source positions, and validates it with zod so that every
 * error points at the file, line and column of the offending value.
 */
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { KprovError, type SourceLocation } from '../errors.js';

export interface YamlSource {
  file: string;
  doc: Document;
  lines: LineCounter;
}

export function parseYamlSource(text: string, file: string): YamlSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    const message = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new KprovError('config', `YAML syntax error: ${message}`, {
      location: { file, ...(pos ? { line: pos.line, column: pos.col } : {}) },
    });
  }
  return { file, doc, lines };
}

/** The location of the value at `path`, or of its nearest existing ancestor. */
export function locate(source: YamlSource, path: readonly PropertyKey[], key?: string): SourceLocation {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = source.doc.getIn(path.slice(0, depth) as unknown[], true);
    if (node === undefined || node === null) continue;
    let offset: number | undefined;
    if (key !== undefined && depth === path.length && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      if (pair && isScalar(pair.key)) offset = pair.key.range?.[0];
    }
    if (offset === undefined && typeof node === 'object' && 'range' in node) {
      offset = (node as { range?: [number, number, number] | null }).range?.[0];
    }
    if (offset === undefined) continue;
    const pos = source.lines.linePos(offset);
    return { file: source.file, line: pos.line, column: pos.col };
  }
  return { file: source.file };
}

/** Validates the document with `schema`; the first problem becomes a KprovError with its location. */
export function validateYaml<S extends z.ZodType>(
  source: YamlSource,
  schema: S,
  what: string,
  describe: (path: readonly PropertyKey[]) => string = describePath,
): z.output<S> {
  const result = schema.safeParse(source.doc.toJS());
  if (result.success) return result.data;
  const issue = mostSpecific(result.error.issues[0]!);
  const unknownKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const location = locate(source, issue.path, unknownKey);
  const at = describe(issue.path);
  const message =
    unknownKey !== undefined
      ? `${what}: unknown key "${unknownKey}"${at ? ` in ${at}` : ''}`
      : `${what}: ${at ? `${at}: ` : ''}${issue.message.replace(/^Invalid input: /, '')}`;
  return fail(message, location);
}

function fail(message: string, location: SourceLocation): never {
  throw new KprovError('config', message, { location });
}

type Issue = z.core.$ZodIssue;

/** For a union, the branch that got furthest into the value explains the problem best. */
function mostSpecific(issue: Issue): Issue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  let best: Issue | undefined;
  for (const branch of issue.errors) {
    const first = branch[0];
    if (first && (!best || first.path.length > best.path.length)) best = first;
  }
  if (!best || best.path.length === 0) {
    // No branch got further: say which types would do ("expected string or array, received number").
    const firsts = issue.errors.map((b) => b[0]).filter((i): i is Issue => i !== undefined);
    if (firsts.length > 0 && firsts.every((i) => i.code === 'invalid_type')) {
      const expected = [...new Set(firsts.map((i) => (i.code === 'invalid_type' ? String(i.expected) : '')))];
      const received = /received (\w+)/.exec(firsts[0]!.message)?.[1];
      return { ...issue, message: `expected ${expected.join(' or ')}${received ? `, received ${received}` : ''}` };
    }
    return issue;
  }
  return mostSpecific({ ...best, path: [...issue.path, ...best.path] } as Issue);
}

/** `plays[0].roles[1].tags` style, starting after the document root. */
export function describePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}
