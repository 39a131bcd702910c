/**
 * Unified diffs for plans, with secrets masked. A file marked secret shows no content at all;
 * every other file still has private-key blocks and secret-looking values masked, so a plan or a
 * run log never carries key material.
 */
import { createTwoFilesPatch } from 'diff';

export const MASK = '********';

export interface MaskOptions {
  /** The whole file is secret (keys, tokens): show sizes only. */
  secret?: boolean;
  /** Extra patterns to mask; with a capture group only the group is masked, else the whole match. */
  mask?: readonly RegExp[];
}

/** Lines longer than this are cut in diffs, and diffs longer than MAX_DIFF_LINES are truncated. */
const MAX_DIFF_LINES = 400;

const PRIVATE_KEY_BLOCK = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----[\s\S]*?-----END \1-----/g;
// `key: value` / `key=value` where the key names a secret (kubeconfig client-key-data, tokens…).
const SECRET_ASSIGNMENT =
  /^(\s*-?\s*"?[\w.-]*(?:password|passwd|secret|token|key-data|key_data|private_key|privatekey|api_key|apikey)"?\s*[:=]\s*)(?!\s*$)(.+)$/gim;

export function maskSecrets(text: string, extra: readonly RegExp[] = []): string {
  let out = text.replace(PRIVATE_KEY_BLOCK, (_m, label: string) => `-----BEGIN ${label}-----\n${MASK}\n-----END ${label}-----`);
  out = out.replace(SECRET_ASSIGNMENT, (_m, key: string) => `${key}${MASK}`);
  for (const pattern of extra) {
    const global = pattern.flags.includes('g') ? pattern : new RegExp(pattern.source, `${pattern.flags}g`);
    out = out.replace(global, (match: string, group: unknown) => (typeof group === 'string' ? match.replace(group, MASK) : MASK));
  }
  return out;
}

/** Whether content is text we can show line by line. */
export function isText(content: Buffer): boolean {
  if (content.includes(0)) return false;
  return Buffer.from(content.toString('utf8'), 'utf8').equals(content);
}

/** A unified diff from the current content (undefined: absent) to the desired one, masked. */
export function fileDiff(path: string, current: Buffer | undefined, desired: Buffer, options: MaskOptions = {}): string {
  const header = `--- ${path}\n+++ ${path}\n`;
  const size = (b: Buffer | undefined) => (b === undefined ? 'absent' : `${b.length} bytes`);
  if (options.secret) return `${header}@@ secret content not shown (${size(current)} → ${size(desired)}) @@\n`;
  if ((current && !isText(current)) || !isText(desired)) {
    return `${header}@@ binary content differs (${size(current)} → ${size(desired)}) @@\n`;
  }
  const before = current === undefined ? '' : maskSecrets(current.toString('utf8'), options.mask);
  const after = maskSecrets(desired.toString('utf8'), options.mask);
  if (before === after) return `${header}@@ only masked values differ @@\n`;
  const patch = createTwoFilesPatch(path, path, before, after, current === undefined ? '(absent)' : 'current', 'desired', { context: 3 });
  // Drop the "Index:"/"====" preamble the library writes; keep ---/+++ and hunks.
  const lines = patch.split('\n').filter((l, i) => !(i < 2 && (l.startsWith('Index:') || l.startsWith('===='))));
  if (lines.at(-1) === '') lines.pop();
  if (lines.length > MAX_DIFF_LINES) {
    const more = lines.length - MAX_DIFF_LINES;
    return `${lines.slice(0, MAX_DIFF_LINES).join('\n')}\n… ${more} more diff lines\n`;
  }
  return `${lines.join('\n')}\n`;
}
