/**
 * The module specifiers a TypeScript source imports: `import … from '…'`, `import '…'`,
 * `export … from '…'` and `import('…')` with a string literal. Comments, the text of strings,
 * template literals and regular expressions are blanked first, so an import written inside them
 * is not one.
 */

export interface ImportSpecifier {
  specifier: string;
  /** 1-based line of the specifier. */
  line: number;
}

// Run over the blanked code, where a string literal is its quotes around spaces; `d` gives the
// string's position, and the specifier is read from the original source there.
const STATIC = /(?<![\w$.])(?:import|export)\b(?:[^;'"`]*?\bfrom)?\s*(['"])( +)\1/dg;
const DYNAMIC = /(?<![\w$.])import\s*\(\s*(['"])( +)\1\s*[,)]/dg;

export function importSpecifiers(source: string): ImportSpecifier[] {
  const code = codeOnly(source);
  const found: { specifier: string; index: number }[] = [];
  for (const pattern of [STATIC, DYNAMIC]) {
    for (const m of code.matchAll(pattern)) {
      const [start, end] = m.indices![2]!;
      found.push({ specifier: source.slice(start, end), index: start });
    }
  }
  return found
    .sort((a, b) => a.index - b.index)
    .map((f) => ({ specifier: f.specifier, line: source.slice(0, f.index).split('\n').length }));
}

/** Spaces for everything but line breaks, so positions and line numbers stay put. */
const blank = (text: string) => text.replace(/[^\n]/g, ' ');

/** After one of these (or at the start), `/` begins a regular expression, not a division. */
const BEFORE_REGEX = /(?:^|[(,=:[!&|?{};+\-*%<>~^]|\b(?:return|typeof|case|do|else|in|of|void|yield|await|delete|throw|new))\s*$/;

/** The source with comments, the text of strings and template literals, and regex literals blanked. */
export function codeOnly(src: string): string {
  let out = '';
  let i = 0;
  let braces = 0;
  // For each open `${`: the brace depth at which its closing `}` returns to the template text.
  const substitutions: number[] = [];

  /** Template text from `from` up to its closing backtick or next `${`; returns where code resumes. */
  const templateText = (from: number): number => {
    let j = from;
    while (j < src.length && src[j] !== '`' && !(src[j] === '$' && src[j + 1] === '{')) j += src[j] === '\\' ? 2 : 1;
    out += blank(src.slice(from, j));
    if (src[j] === '`') {
      out += ' ';
      return j + 1;
    }
    if (j < src.length) {
      out += '  ';
      substitutions.push(braces);
      return j + 2;
    }
    return j;
  };

  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      out += blank(src.slice(i, stop));
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += blank(src.slice(i, stop));
      i = stop;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      out += c + blank(src.slice(i + 1, j)) + (src[j] === c ? c : '');
      i = src[j] === c ? j + 1 : j;
    } else if (c === '`') {
      out += ' ';
      i = templateText(i + 1);
    } else if (c === '/' && BEFORE_REGEX.test(out.slice(-40))) {
      const stop = regexEnd(src, i);
      out += blank(src.slice(i, stop));
      i = stop;
    } else if (c === '}' && substitutions.length > 0 && substitutions[substitutions.length - 1] === braces) {
      substitutions.pop();
      out += ' ';
      i = templateText(i + 1);
    } else {
      if (c === '{') braces++;
      if (c === '}') braces--;
      out += c;
      i++;
    }
  }
  return out;
}

/** Where the regex literal starting at `start` ends (after its flags); a lone `/` if it never closes on its line. */
function regexEnd(src: string, start: number): number {
  let j = start + 1;
  let inClass = false;
  while (j < src.length && src[j] !== '\n') {
    const c = src[j];
    if (c === '\\') j += 2;
    else {
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      else if (c === '/' && !inClass) {
        j++;
        while (j < src.length && /[a-z]/.test(src[j]!)) j++;
        return j;
      }
      j++;
    }
  }
  return start + 1;
}
