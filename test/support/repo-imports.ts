/** Every relative import of the repository's TypeScript sources, resolved to repository paths. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { importSpecifiers } from './import-specifiers.js';

export interface RepoImport {
  /** The importing source, relative to the repository root, with `/` separators. */
  file: string;
  line: number;
  /** As written, e.g. `../../src/errors.js`. */
  specifier: string;
  /** What it names, relative to the repository root (`..` first when outside it). */
  target: string;
}

function typescriptFiles(root: string, dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(path.join(root, dir), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) return typescriptFiles(root, rel);
    return e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** The relative imports (`./`, `../`) in every .ts file under `folders`; packages are not listed. */
export function relativeImports(root: string, folders: readonly string[]): RepoImport[] {
  return folders.flatMap((folder) =>
    typescriptFiles(root, folder).flatMap((file) =>
      importSpecifiers(readFileSync(path.join(root, file), 'utf8'))
        .filter((i) => i.specifier.startsWith('./') || i.specifier.startsWith('../'))
        .map((i) => ({ file, line: i.line, specifier: i.specifier, target: path.posix.join(path.posix.dirname(file), i.specifier) })),
    ),
  );
}
