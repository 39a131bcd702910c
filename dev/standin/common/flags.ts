/**
 * Command-line parsing with the rules of spf13/pflag as the v1.13 components use it: `--name=value`,
 * `--name value`, bool flags as `--x` or `--x=false`, repeated flags, `-v 2` shorthands, `--` ending
 * the flags. Values are checked when they are set, as pflag does, so a bad number or duration fails
 * with pflag's own wording.
 */
import { parseGoDuration } from './duration.js';

export type FlagType =
  | 'bool'
  | 'string'
  | 'int'
  | 'uint'
  | 'float'
  | 'duration'
  /** `--version`, `--version=raw`, `--version=false` (k8s.io verflag's tristate). */
  | 'version';

export interface FlagSetSpec {
  /** The binary's name, e.g. `kube-apiserver`. */
  readonly command: string;
  readonly accepted: ReadonlySet<string>;
  /** Type of each flag whose value is not a free string. */
  readonly types: ReadonlyMap<string, FlagType>;
  /** Single-letter aliases: `v` → `v`, `h` → `help`. */
  readonly shorthands: ReadonlyMap<string, string>;
  /** kubelet parses with WordSepNormalizeFunc, so `--log_dir` means `--log-dir` there. */
  readonly normalizeUnderscores: boolean;
}

/** A parse failure, worded as pflag words it (cobra prints it after `Error: `). */
export class FlagParseError extends Error {
  override readonly name = 'FlagParseError';
}

const goBools = new Map<string, boolean>([
  ['1', true], ['t', true], ['T', true], ['TRUE', true], ['true', true], ['True', true],
  ['0', false], ['f', false], ['F', false], ['FALSE', false], ['false', false], ['False', false],
]);

/** Go's strconv.ParseBool. */
export function parseGoBool(text: string): boolean | undefined {
  return goBools.get(text);
}

function checkValue(type: FlagType, display: string, value: string): void {
  const bad = (why: string) => new FlagParseError(`invalid argument "${value}" for "${display}" flag: ${why}`);
  switch (type) {
    case 'bool':
      if (parseGoBool(value) === undefined) throw bad(`strconv.ParseBool: parsing "${value}": invalid syntax`);
      return;
    case 'version':
      if (value !== 'raw' && parseGoBool(value) === undefined) throw bad(`strconv.ParseBool: parsing "${value}": invalid syntax`);
      return;
    case 'int':
      if (!/^[+-]?(0x[0-9a-fA-F]+|\d+)$/.test(value)) throw bad(`strconv.ParseInt: parsing "${value}": invalid syntax`);
      return;
    case 'uint':
      if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(value)) throw bad(`strconv.ParseUint: parsing "${value}": invalid syntax`);
      return;
    case 'float':
      if (value.trim() === '' || !Number.isFinite(Number(value))) throw bad(`strconv.ParseFloat: parsing "${value}": invalid syntax`);
      return;
    case 'duration': {
      const parsed = parseGoDuration(value);
      if (typeof parsed === 'string') throw bad(parsed);
      return;
    }
    case 'string':
      return;
  }
}

export interface ParsedArgs {
  /** Every value given per flag (normalised name), in order. */
  readonly values: ReadonlyMap<string, readonly string[]>;
  /** Arguments that are not flags. */
  readonly args: readonly string[];
}

export function parseArgs(spec: FlagSetSpec, argv: readonly string[]): ParsedArgs {
  const values = new Map<string, string[]>();
  const args: string[] = [];
  const typeOf = (name: string): FlagType => spec.types.get(name) ?? 'string';
  const takesNoValue = (name: string) => typeOf(name) === 'bool' || typeOf(name) === 'version';
  const set = (name: string, display: string, value: string) => {
    checkValue(typeOf(name), display, value);
    const list = values.get(name) ?? [];
    list.push(value);
    values.set(name, list);
  };
  const normalise = (name: string) => (spec.normalizeUnderscores ? name.replaceAll('_', '-') : name);

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      args.push(arg);
      continue;
    }
    if (arg.startsWith('--')) {
      const body = arg.slice(2);
      if (body === '' || body.startsWith('-') || body.startsWith('=')) throw new FlagParseError(`bad flag syntax: ${arg}`);
      const eq = body.indexOf('=');
      const given = eq < 0 ? body : body.slice(0, eq);
      const name = normalise(given);
      if (!spec.accepted.has(name)) throw new FlagParseError(`unknown flag: --${given}`);
      if (eq >= 0) set(name, `--${name}`, body.slice(eq + 1));
      else if (takesNoValue(name)) set(name, `--${name}`, 'true');
      else if (i + 1 < argv.length) set(name, `--${name}`, argv[++i]!);
      else throw new FlagParseError(`flag needs an argument: ${arg}`);
      continue;
    }
    // Shorthands: -v=2, -v2, -v 2, -h (and combined bools such as -hv=2, rare but legal).
    let rest = arg.slice(1);
    while (rest.length > 0) {
      const c = rest[0]!;
      const name = spec.shorthands.get(c);
      if (name === undefined) throw new FlagParseError(`unknown shorthand flag: '${c}' in ${arg}`);
      const after = rest.slice(1);
      const display = `-${c}, --${name}`;
      if (after.startsWith('=')) {
        set(name, display, after.slice(1));
        rest = '';
      } else if (takesNoValue(name)) {
        set(name, display, 'true');
        rest = after;
      } else if (after.length > 0) {
        set(name, display, after);
        rest = '';
      } else if (i + 1 < argv.length) {
        set(name, display, argv[++i]!);
        rest = '';
      } else {
        throw new FlagParseError(`flag needs an argument: '${c}' in ${arg}`);
      }
    }
  }
  return { values, args };
}

/** Typed access to parsed flags; defaults are the component's v1.13 defaults, given by the caller. */
export class Flags {
  constructor(private readonly parsed: ParsedArgs) {}

  get args(): readonly string[] {
    return this.parsed.args;
  }

  has(name: string): boolean {
    return this.parsed.values.has(name);
  }

  /** Names of every flag given on the command line. */
  given(): string[] {
    return [...this.parsed.values.keys()];
  }

  all(name: string): readonly string[] {
    return this.parsed.values.get(name) ?? [];
  }

  /** The last value given (pflag: the last --x wins), or the default. */
  string(name: string, fallback = ''): string {
    const list = this.parsed.values.get(name);
    return list && list.length > 0 ? list[list.length - 1]! : fallback;
  }

  bool(name: string, fallback: boolean): boolean {
    if (!this.has(name)) return fallback;
    return parseGoBool(this.string(name)) ?? fallback;
  }

  int(name: string, fallback: number): number {
    return this.has(name) ? Number.parseInt(this.string(name), this.string(name).toLowerCase().includes('0x') ? 16 : 10) : fallback;
  }

  float(name: string, fallback: number): number {
    return this.has(name) ? Number(this.string(name)) : fallback;
  }

  /** A duration in milliseconds. */
  durationMs(name: string, fallbackMs: number): number {
    if (!this.has(name)) return fallbackMs;
    const parsed = parseGoDuration(this.string(name));
    return typeof parsed === 'number' ? parsed : fallbackMs;
  }

  /** A pflag StringSlice: every occurrence, each split on commas. */
  list(name: string, fallback: readonly string[] = []): string[] {
    if (!this.has(name)) return [...fallback];
    return this.all(name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  }
}
