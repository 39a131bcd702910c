/**
 * Splitting the lines of an Ansible INI inventory into tokens.
 *
 * The `ini` package cannot parse host lines: it reads `node1 ansible_host=10.0.0.1 ip=10.3.0.1`
 * as the key `node1 ansible_host` with the value `10.0.0.1 ip=10.3.0.1`, and it has no notion of
 * several shell-quoted `key=value` pairs on one line. Ansible splits host lines like a POSIX
 * shell (Python's shlex), so that is what tokenizeHostLine() does, keeping each token's column
 * for error messages. `ini` is used where its rules are Ansible's: unquoting a quoted `:vars`
 * value (see splitVarsLine()).
 */
import ini from 'ini';
import { KprovError, type SourceLocation } from '../errors.js';

export interface Token {
  /** The token with quotes and escapes removed. */
  text: string;
  /** 1-based column of the token's first character in the line. */
  column: number;
}

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v';
const isCommentStart = (c: string) => c === '#' || c === ';';

/**
 * Shell-like splitting: whitespace separates tokens; 'single quotes' are literal; in "double
 * quotes" a backslash escapes only `"` and `\`; outside quotes a backslash escapes any character.
 * A token that starts with `#` or `;` starts a comment that runs to the end of the line.
 */
export function tokenizeHostLine(line: string, at: { file: string; line: number }): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && isSpace(line[i]!)) i++;
    if (i >= line.length || isCommentStart(line[i]!)) break;
    const start = i;
    let text = '';
    while (i < line.length && !isSpace(line[i]!)) {
      const c = line[i]!;
      if (c === "'" || c === '"') {
        const close = scanQuoted(line, i, at);
        text += close.text;
        i = close.end;
      } else if (c === '\\' && i + 1 < line.length) {
        text += line[i + 1];
        i += 2;
      } else {
        text += c;
        i++;
      }
    }
    tokens.push({ text, column: start + 1 });
  }
  return tokens;
}

/** Reads a quoted run starting at `open`; returns its unquoted text and the index after it. */
function scanQuoted(line: string, open: number, at: { file: string; line: number }): { text: string; end: number } {
  const quote = line[open]!;
  let text = '';
  let i = open + 1;
  while (i < line.length) {
    const c = line[i]!;
    if (c === quote) return { text, end: i + 1 };
    if (quote === '"' && c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
      text += line[i + 1];
      i += 2;
      continue;
    }
    text += c;
    i++;
  }
  throw new KprovError('inventory', `unterminated quote: found ${quote} with no closing ${quote} on the same line`, {
    location: { file: at.file, line: at.line, column: open + 1 },
    hint: 'close the quote, or escape it with a backslash',
  });
}

/** Index where an inline comment starts (a `#` or `;` after whitespace, outside quotes), else -1. */
export function inlineCommentStart(text: string): number {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (isCommentStart(c) && (i === 0 || isSpace(text[i - 1]!))) {
      return i;
    }
  }
  return -1;
}

export interface VarsLine {
  key: string;
  /** The value as a string: `:vars` values are strings (the schema types the ones kprov uses). */
  value: string;
  keyColumn: number;
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A `key=value` line of a `[group:vars]` section. Everything after the first `=` is the value
 * (spaces included), minus an inline comment; a value in quotes is unquoted by `ini`'s rules
 * (JSON escapes in double quotes, none in single quotes), which match Ansible's for such values.
 */
export function splitVarsLine(line: string, loc: SourceLocation & { line: number }, section: string): VarsLine {
  const eq = line.indexOf('=');
  const keyColumn = line.length - line.trimStart().length + 1;
  if (eq < 0) {
    throw new KprovError('inventory', `expected key=value in [${section}], found "${line.trim()}"`, {
      location: { ...loc, column: keyColumn },
    });
  }
  const key = line.slice(0, eq).trim();
  if (!VAR_NAME.test(key)) {
    throw new KprovError('inventory', `invalid variable name "${key}" in [${section}]; expected letters, digits and _`, {
      location: { ...loc, column: keyColumn },
    });
  }
  let rest = line.slice(eq + 1);
  const comment = inlineCommentStart(rest);
  if (comment >= 0) rest = rest.slice(0, comment);
  rest = rest.trim();
  const quoted = rest.length >= 2 && (rest[0] === '"' || rest[0] === "'") && rest.endsWith(rest[0]!);
  return { key, value: quoted ? String(ini.unsafe(rest)) : rest, keyColumn };
}
