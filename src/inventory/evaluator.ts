/**
 * Lazy evaluation of Jinja expressions in inventory variables, with nunjucks.
 *
 * A variable is evaluated only when asked for; the variables its expression names are looked up
 * in the same host's merged variables and evaluated in turn (memoized; a cycle is an error naming
 * the chain). A string that is one whole expression, `"{{ x }}"`, yields the expression's native
 * value (number, list, bool) as Ansible does; mixed text renders to a string.
 *
 * Undefined variables: nunjucks yields `undefined` for an unknown name. The evaluator counts those
 * look-ups and the times `default`/`is defined` handled an undefined value; more look-ups than
 * guards means an unguarded undefined variable, which is an error (Ansible's strict behaviour).
 */
import nunjucks from 'nunjucks';
import { isDeepStrictEqual } from 'node:util';
import type { SourceLocation } from '../errors.js';
import { convertRendered, installFilters } from './filters.js';
import { UnsafeText } from './yaml-vars.js';

export interface VarDef {
  value: unknown;
  /** Where the winning value was defined; undefined for kprov's defaults. */
  location?: SourceLocation;
}

export interface EvalScope {
  vars: ReadonlyMap<string, VarDef>;
  /** Ansible's magic variables for the host (inventory_hostname, groups, …); they win over vars. `hostvars` is built in. */
  magic: Readonly<Record<string, unknown>>;
}

export interface ExpressionFailure {
  host: string;
  /** Variables from the one asked for down to the one whose expression failed. */
  path: string[];
  /** The failing variable's value as written. */
  expression: string;
  location?: SourceLocation;
  reason: string;
}

export class ExpressionError extends Error {
  constructor(readonly failure: ExpressionFailure) {
    super(failure.reason);
    this.name = 'ExpressionError';
  }
}

interface Frame {
  host: string;
  label: string;
  def: VarDef;
  misses: string[];
  memberMisses: Set<string>;
  guards: number;
  captured?: { value: unknown };
  failure?: ExpressionError;
}

type Memo = { ok: true; value: unknown } | { ok: false; error: ExpressionError };

/** What a name resolved to while a variable was evaluated. */
type Dependency = { value: unknown } | { error: ExpressionError } | { missing: true };

/** An evaluated definition and what it depended on, so other hosts can reuse it. */
interface SharedOutcome {
  dependencies: Map<string, Dependency>;
  outcome: Memo;
}

const TEMPLATE_MARKERS = /\{\{|\{%|\{#/;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NATIVE_CAPTURE = '__kprov_native';
/** Outcomes kept per definition for reuse on other hosts (group variables need one). */
const MAX_SHARED_OUTCOMES = 4;

export function isTemplate(value: unknown): value is string {
  return typeof value === 'string' && TEMPLATE_MARKERS.test(value);
}

/** The expression of a string that is exactly one `{{ … }}`, else undefined. */
export function singleExpression(text: string): string | undefined {
  const m = /^\{\{-?([\s\S]*?)-?\}\}$/.exec(text);
  if (!m) return undefined;
  const inner = m[1]!;
  if (/\{\{|\}\}|\{%|%\}|\{#/.test(inner) || inner.trim() === '') return undefined;
  return inner.trim();
}

/** The expression text as written, for messages. */
function written(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** nunjucks' "(unknown path) [Line 1, Column 5]\n  Error: …" → the message alone. */
function cleanMessage(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const last = lines[lines.length - 1] ?? message;
  return last.replace(/^\(unknown path\)\s*(\[Line \d+, Column \d+\])?\s*/, '').replace(/^Error: /, '');
}

/** Tests that take several arguments (`x is version('1.2', '<')`). */
const MULTI_ARGUMENT_TESTS = ['version', 'version_compare', 'ansible.builtin.version'];

/**
 * nunjucks 3 compiles `x is test(a, b)` without the comma between a and b (its compileIs emits
 * the argument list unseparated), so such calls are rewritten to pass one list, `test([a, b])`,
 * which filters.ts unpacks. Only the tests above are rewritten.
 */
export function packTestArguments(source: string): string {
  const head = new RegExp(`\\bis\\s+(?:not\\s+)?(?:${MULTI_ARGUMENT_TESTS.map((t) => t.replace(/\./g, '\\.')).join('|')})\\s*\\(`, 'g');
  let out = '';
  let last = 0;
  for (let m = head.exec(source); m; m = head.exec(source)) {
    const open = m.index + m[0].length - 1;
    const close = matchingParen(source, open);
    if (close < 0) break;
    out += `${source.slice(last, open + 1)}[${source.slice(open + 1, close)}])`;
    last = close + 1;
    head.lastIndex = close + 1;
  }
  return out + source.slice(last);
}

function matchingParen(text: string, open: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return c === ')' ? i : -1;
    }
  }
  return -1;
}

function sameDependency(a: Dependency, b: Dependency): boolean {
  if ('missing' in a || 'missing' in b) return 'missing' in a && 'missing' in b;
  if ('error' in a || 'error' in b) return 'error' in a && 'error' in b && a.error === b.error;
  return a.value === b.value || isDeepStrictEqual(a.value, b.value);
}

/** Whether evaluating the value involves an expression (plain values are cheap to copy). */
function isTemplated(value: unknown): boolean {
  if (isTemplate(value)) return true;
  if (Array.isArray(value)) return value.some(isTemplated);
  if (value !== null && typeof value === 'object' && !(value instanceof Date) && !(value instanceof UnsafeText)) {
    return Object.values(value).some(isTemplated);
  }
  return false;
}

export class Evaluator {
  private readonly env: nunjucks.Environment;
  private readonly frames: Frame[] = [];
  private readonly memo = new Map<string, Memo>();
  private readonly active: string[] = [];
  private readonly dependencyStack: Map<string, Dependency>[] = [];
  private readonly shared = new Map<VarDef, SharedOutcome[]>();
  private readonly templates = new Map<string, nunjucks.Template>();
  private readonly hostProxies = new Map<string, object>();
  readonly hostvars: object;

  constructor(private readonly scopes: ReadonlyMap<string, EvalScope>) {
    this.env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false, trimBlocks: true });
    installFilters(this.env, { guard: () => this.guard() });
    this.hostvars = this.makeHostvars();
    const envWithGlobals = this.env as unknown as { globals: Record<string, unknown> };
    const builtins: Record<string, unknown> = {
      range: envWithGlobals.globals['range'],
      hostvars: this.hostvars,
      [NATIVE_CAPTURE]: (value: unknown) => {
        const top = this.top();
        if (top) top.captured = { value };
        return '';
      },
      lookup: (plugin: unknown) => {
        throw new Error(`lookup('${String(plugin)}', …) is an Ansible lookup plugin, which kprov does not run`);
      },
      query: (plugin: unknown) => {
        throw new Error(`query('${String(plugin)}', …) is an Ansible lookup plugin, which kprov does not run`);
      },
    };
    // nunjucks resolves a template's free names through env.globals when the render context
    // lacks them: this proxy answers from the variables of the host being evaluated, lazily.
    envWithGlobals.globals = new Proxy(builtins, {
      has: (target, name) => {
        if (typeof name !== 'string') return false;
        if (name in target) return true;
        const frame = this.top();
        if (frame && this.isDefined(frame.host, name)) return true;
        frame?.misses.push(name);
        this.recordDependency(name, { missing: true });
        return false;
      },
      get: (target, name) => {
        if (typeof name !== 'string') return undefined;
        if (name in target) return target[name];
        const frame = this.top();
        if (!frame) return undefined;
        try {
          const value = this.lookupFor(frame, frame.host, name);
          this.recordDependency(name, { value });
          return value;
        } catch (err) {
          if (err instanceof ExpressionError) this.recordDependency(name, { error: err });
          throw err;
        }
      },
    });
  }

  /** Whether the host has the variable (inventory, default or magic). */
  isDefined(host: string, name: string): boolean {
    const scope = this.scopes.get(host);
    return scope !== undefined && (name in scope.magic || scope.vars.has(name));
  }

  /** The evaluated value of a host's variable; undefined when it is not defined. Throws ExpressionError. */
  value(host: string, name: string): unknown {
    const scope = this.scopes.get(host);
    if (!scope) return undefined;
    if (name in scope.magic) return scope.magic[name];
    const def = scope.vars.get(name);
    if (!def) return undefined;
    const key = `${host}\u0000${name}`;
    const known = this.memo.get(key);
    if (known) {
      if (known.ok) return known.value;
      throw known.error;
    }
    const label = this.label(host, name);
    const at = this.active.indexOf(key);
    if (at >= 0) {
      const cycle = [...this.active.slice(at).map((k) => this.labelOfKey(k)), label];
      throw new ExpressionError({
        host,
        path: [label],
        expression: written(def.value),
        ...(def.location ? { location: def.location } : {}),
        reason: `variable cycle: ${cycle.join(' → ')}`,
      });
    }
    this.active.push(key);
    const dependencies = new Map<string, Dependency>();
    this.dependencyStack.push(dependencies);
    try {
      const templated = isTemplated(def.value);
      let outcome = templated ? this.reusable(host, def) : undefined;
      if (!outcome) {
        try {
          outcome = { ok: true, value: this.deep(def.value, host, label, def) };
        } catch (err) {
          if (!(err instanceof ExpressionError)) throw err;
          outcome = { ok: false, error: err };
        }
        if (templated) this.share(def, { dependencies, outcome });
      }
      this.memo.set(key, outcome);
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    } finally {
      this.dependencyStack.pop();
      this.active.pop();
    }
  }

  /** Keeps the latest outcomes of a definition; per-host expressions (inventory_hostname) never match, so few are kept. */
  private share(def: VarDef, entry: SharedOutcome): void {
    const list = this.shared.get(def) ?? [];
    list.unshift(entry);
    if (list.length > MAX_SHARED_OUTCOMES) list.pop();
    this.shared.set(def, list);
  }

  private recordDependency(name: string, dependency: Dependency): void {
    const top = this.dependencyStack[this.dependencyStack.length - 1];
    if (top && !top.has(name)) top.set(name, dependency);
  }

  /**
   * The outcome of the same definition on another host, when every name it looked up resolves
   * to the same thing on this host: most group variables evaluate once for the whole inventory.
   */
  private reusable(host: string, def: VarDef): Memo | undefined {
    const candidates = this.shared.get(def);
    if (!candidates) return undefined;
    const resolved = new Map<string, Dependency>();
    const resolve = (name: string): Dependency => {
      let d = resolved.get(name);
      if (!d) {
        if (!this.isDefined(host, name)) d = { missing: true };
        else {
          try {
            d = { value: this.value(host, name) };
          } catch (err) {
            if (!(err instanceof ExpressionError)) throw err;
            d = { error: err };
          }
        }
        resolved.set(name, d);
      }
      return d;
    };
    for (const candidate of candidates) {
      let same = true;
      for (const [name, expected] of candidate.dependencies) {
        if (!sameDependency(resolve(name), expected)) {
          same = false;
          break;
        }
      }
      if (same) return candidate.outcome;
    }
    return undefined;
  }

  private label(host: string, name: string): string {
    const top = this.top();
    return top === undefined || top.host === host ? name : `hostvars['${host}'].${name}`;
  }

  private labelOfKey(key: string): string {
    const [host, name] = key.split('\u0000') as [string, string];
    return this.active.length > 0 && this.active[0]!.startsWith(`${host}\u0000`) ? name : `hostvars['${host}'].${name}`;
  }

  private top(): Frame | undefined {
    return this.frames[this.frames.length - 1];
  }

  private guard(): void {
    const top = this.top();
    if (top) top.guards++;
  }

  private lookupFor(frame: Frame, host: string, name: string): unknown {
    try {
      return this.value(host, name);
    } catch (err) {
      if (err instanceof ExpressionError) frame.failure ??= err;
      throw err;
    }
  }

  private deep(value: unknown, host: string, label: string, def: VarDef): unknown {
    if (value instanceof UnsafeText) return value.text;
    if (isTemplate(value)) return this.render(host, value, label, def);
    if (Array.isArray(value)) return value.map((v) => this.deep(v, host, label, def));
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.deep(v, host, label, def);
      return out;
    }
    return value;
  }

  private compile(source: string): nunjucks.Template {
    let t = this.templates.get(source);
    if (!t) {
      t = new nunjucks.Template(packTestArguments(source), this.env, undefined, true);
      this.templates.set(source, t);
    }
    return t;
  }

  private render(host: string, text: string, label: string, def: VarDef): unknown {
    const frame: Frame = { host, label, def, misses: [], memberMisses: new Set(), guards: 0 };
    const fail = (reason: string) =>
      new ExpressionError({
        host,
        path: [label],
        expression: written(def.value),
        ...(def.location ? { location: def.location } : {}),
        reason,
      });
    const unguarded = () => {
      const missing = [...new Set([...frame.misses, ...frame.memberMisses])];
      return frame.misses.length + frame.memberMisses.size > frame.guards && missing.length > 0
        ? fail(`undefined variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`)
        : undefined;
    };
    const native = singleExpression(text);
    let template: nunjucks.Template;
    try {
      template = this.compile(native !== undefined ? `{{ ${NATIVE_CAPTURE}((${native})) }}` : text);
    } catch (err) {
      throw fail(`syntax error: ${cleanMessage(err instanceof Error ? err.message : String(err))}`);
    }
    this.frames.push(frame);
    try {
      const out = template.render({});
      const undefinedError = unguarded();
      if (undefinedError) throw undefinedError;
      return native !== undefined ? frame.captured?.value : convertRendered(out);
    } catch (err) {
      if (err instanceof ExpressionError) throw err;
      if (frame.failure) {
        const inner = frame.failure.failure;
        throw new ExpressionError({ ...inner, path: inner.path[0] === label ? inner.path : [label, ...inner.path] });
      }
      throw unguarded() ?? fail(cleanMessage(err instanceof Error ? err.message : String(err)));
    } finally {
      this.frames.pop();
    }
  }

  /** `hostvars[host][name]`: other hosts' variables, evaluated lazily on their own host. */
  private makeHostvars(): object {
    return new Proxy(Object.create(null) as object, {
      has: (_t, host) => typeof host === 'string' && this.scopes.has(host),
      get: (_t, host) => (typeof host === 'string' && this.scopes.has(host) ? this.hostProxy(host) : undefined),
      ownKeys: () => [...this.scopes.keys()],
      getOwnPropertyDescriptor: (_t, host) =>
        typeof host === 'string' && this.scopes.has(host) ? { enumerable: true, configurable: true, value: this.hostProxy(host) } : undefined,
    });
  }

  private hostProxy(host: string): object {
    let p = this.hostProxies.get(host);
    if (!p) {
      p = new Proxy(Object.create(null) as object, {
        has: (_t, name) => typeof name === 'string' && this.isDefined(host, name),
        get: (_t, name) => {
          if (typeof name !== 'string') return undefined;
          const frame = this.top();
          if (!this.isDefined(host, name)) {
            if (frame && VAR_NAME.test(name)) frame.memberMisses.add(`hostvars['${host}'].${name}`);
            return undefined;
          }
          return frame ? this.lookupFor(frame, host, name) : this.value(host, name);
        },
      });
      this.hostProxies.set(host, p);
    }
    return p;
  }
}
