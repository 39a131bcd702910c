/**
 * Strict templates: nunjucks over `templates/` with undefined values as errors, no HTML escaping,
 * Jinja-like whitespace control (trimBlocks/lstripBlocks), and a loader that reads nothing outside
 * the templates directory. Errors become KprovError('template') naming the file and line.
 */
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import nunjucks from 'nunjucks';
import { KprovError } from '../errors.js';
import { templatesDir } from '../paths.js';
import type { TemplateRenderer } from './contract.js';

/** Loads only files inside `root` (after resolving symlinks); names are relative to it. */
class ContainedLoader implements nunjucks.ILoader {
  readonly root: string;

  constructor(root: string) {
    this.root = realpathSync(root);
  }

  getSource(name: string): nunjucks.LoaderSource {
    const full = this.resolve(name);
    // Nunjucks turns a thrown error into a render error naming the including template.
    return { src: readFileSync(full, 'utf8'), path: full, noCache: false };
  }

  /** The absolute path of a template, or a KprovError when it escapes the root or is missing. */
  resolve(name: string): string {
    const outside = () =>
      new KprovError('template', `template "${name}" is outside the templates directory`, { location: { file: name } });
    if (path.isAbsolute(name)) throw outside();
    const candidate = path.resolve(this.root, name);
    if (!isInside(this.root, candidate)) throw outside();
    let real: string;
    try {
      real = realpathSync(candidate);
    } catch {
      throw new KprovError('template', `template "${name}" does not exist in ${this.root}`, { location: { file: name } });
    }
    if (!isInside(this.root, real)) throw outside();
    return real;
  }
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** A renderer over `dir` (default: the package's templates/). */
export function createTemplateRenderer(dir: string = templatesDir): TemplateRenderer {
  const loader = new ContainedLoader(dir);
  const env = new nunjucks.Environment(loader, {
    autoescape: false,
    throwOnUndefined: true,
    trimBlocks: true,
    lstripBlocks: true,
  });
  return (relativePath, vars) => {
    // Resolve first so a missing or escaping name is reported as such, not as a render error.
    const full = loader.resolve(relativePath);
    try {
      return env.render(relativePath, vars);
    } catch (err) {
      throw templateError(loader.root, full, err);
    }
  };
}

let defaultRenderer: TemplateRenderer | undefined;

/** Renders `templates/<relativePath>` with `vars`, strictly. */
export function renderTemplate(relativePath: string, vars: Record<string, unknown>): string {
  defaultRenderer ??= createTemplateRenderer();
  return defaultRenderer(relativePath, vars);
}

// Nunjucks reports "(/abs/file.j2) [Line 5, Column 3]\n  message"; includes nest that prefix.
const NUNJUCKS_POSITION = /\(([^)\n]+)\)(?: \[Line (\d+), Column (\d+)\])?\n\s*/g;

function templateError(root: string, fullPath: string, err: unknown): KprovError {
  if (err instanceof KprovError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  // The innermost file/position is where the problem is (an included template, say).
  let file = fullPath;
  let line: number | undefined;
  let column: number | undefined;
  for (const m of raw.matchAll(NUNJUCKS_POSITION)) {
    file = m[1] ?? file;
    if (m[2] !== undefined) {
      line = Number(m[2]);
      column = Number(m[3]);
    }
  }
  let message = raw.replace(NUNJUCKS_POSITION, '').replace(/^(Template render error: |Error: )+/g, '').trim();
  const shownFile = path.join(path.basename(root), path.relative(root, file));
  const source = readSafely(file);
  if (line === undefined && source !== undefined) line = guessLine(message, source);
  if (/attempted to output null or undefined value/.test(message)) {
    message = 'undefined value';
    const text = line !== undefined ? source?.split('\n')[line - 1]?.trim() : undefined;
    if (text) message += ` in "${text.length > 100 ? `${text.slice(0, 97)}...` : text}"`;
  }
  return new KprovError('template', message, {
    location: { file: shownFile, ...(line !== undefined ? { line } : {}), ...(column !== undefined ? { column } : {}) },
    hint: 'every variable a template uses must be defined (use `default(...)` for optional ones)',
    cause: err,
  });
}

function readSafely(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Nunjucks gives no line for some errors (unknown filter, end of file): find the likeliest one. */
function guessLine(message: string, source: string): number | undefined {
  const lines = source.split('\n');
  const filter = /filter not found: (\S+)/.exec(message)?.[1];
  if (filter) {
    const i = lines.findIndex((l) => new RegExp(`\\|\\s*${filter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(l));
    if (i >= 0) return i + 1;
  }
  if (/end of file/.test(message)) return lines.length > 1 && lines.at(-1) === '' ? lines.length - 1 : lines.length;
  return undefined;
}
