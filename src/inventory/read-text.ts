/** Reading inventory files as UTF-8 text, with errors users can act on. */
import { readFile } from 'node:fs/promises';
import { KprovError } from '../errors.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

function reasonFor(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'the file does not exist (a dangling symbolic link?)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory, expected a file';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** The file's text; a missing, unreadable or non-UTF-8 file is a KprovError at that file. */
export async function readInventoryText(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new KprovError('inventory', `cannot read the file: ${reasonFor(err)}`, { location: { file }, cause: err });
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (err) {
    const at = firstInvalidUtf8(bytes);
    throw new KprovError('inventory', 'cannot read the file: it is not UTF-8 text', {
      location: { file, line: at.line, column: at.column },
      cause: err,
    });
  }
  // A byte-order mark is not part of the first line's content.
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/** Line and column (in bytes) of the first byte that is not valid UTF-8. */
function firstInvalidUtf8(bytes: Buffer): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > bytes.length) break;
    let ok = true;
    for (let k = 1; k < len; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) ok = false;
    if (!ok || (len > 1 && !isValidSequence(bytes.subarray(i, i + len)))) break;
    if (b === 0x0a) {
      line++;
      lineStart = i + 1;
    }
    i += len;
  }
  return { line, column: i - lineStart + 1 };
}

function isValidSequence(seq: Buffer): boolean {
  try {
    decoder.decode(seq);
    return true;
  } catch {
    return false;
  }
}
