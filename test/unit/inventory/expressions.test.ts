import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Evaluator, ExpressionError, singleExpression, type EvalScope, type VarDef } from '../../../src/inventory/evaluator.js';
import { UnsafeText } from '../../../src/inventory/yaml-vars.js';

function scopes(hosts: Record<string, Record<string, unknown>>): Map<string, EvalScope> {
  const out = new Map<string, EvalScope>();
  for (const [host, vars] of Object.entries(hosts)) {
    const defs = new Map<string, VarDef>(
      Object.entries(vars).map(([k, v]) => [k, { value: v, location: { file: `/inv/group_vars/all.yml`, line: Object.keys(vars).indexOf(k) + 1 } }]),
    );
    out.set(host, { vars: defs, magic: { inventory_hostname: host, groups: { all: Object.keys(hosts) } } });
  }
  return out;
}

/** Evaluates `expr` as the value of a variable `v` next to `vars` on host h. */
function evaluate(expr: unknown, vars: Record<string, unknown> = {}): unknown {
  return new Evaluator(scopes({ h: { ...vars, v: expr } })).value('h', 'v');
}

function failure(expr: unknown, vars: Record<string, unknown> = {}): ExpressionError {
  try {
    evaluate(expr, vars);
  } catch (err) {
    if (err instanceof ExpressionError) return err;
    throw err;
  }
  assert.fail(`expected ${JSON.stringify(expr)} to fail`);
}

test('a whole-string single expression yields the native value', () => {
  assert.equal(evaluate('{{ port }}', { port: 6443 }), 6443);
  assert.deepEqual(evaluate('{{ servers }}', { servers: ['a', 'b'] }), ['a', 'b']);
  assert.equal(evaluate('{{ flag }}', { flag: false }), false);
  assert.equal(evaluate('{{ 6443 }}'), 6443);
  assert.deepEqual(evaluate("{{ {'a': 1} }}"), { a: 1 });
  assert.equal(evaluate('{{- x -}}', { x: 3 }), 3);
  assert.equal(evaluate('{{ 1 + 2 }}'), 3);
});

test('mixed text renders to a string; a rendered list or dict is read back as Ansible does', () => {
  assert.equal(evaluate('{{ dir }}/ssl', { dir: '/etc/kubernetes' }), '/etc/kubernetes/ssl');
  assert.equal(evaluate('port {{ p }}', { p: 1 }), 'port 1');
  assert.deepEqual(evaluate('{% if x is defined %}[{{ x }}]{% else %}[]{% endif %}'), []);
  assert.deepEqual(evaluate('[{{ a }}, {{ b }}]', { a: 1, b: 2 }), [1, 2]);
  assert.equal(evaluate('{% if true %}True{% endif %}'), true);
});

test('references resolve recursively, lazily and through lists and mappings', () => {
  const vars = {
    cluster_name: 'cluster.local',
    dns_domain: '{{ cluster_name }}',
    fqdn: 'kubernetes.default.svc.{{ dns_domain }}',
    names: ['{{ fqdn }}', 'static'],
    nested: { a: '{{ cluster_name | upper }}' },
    broken: '{{ lookup("password", "/x") }}',
  };
  assert.equal(evaluate('{{ fqdn }}', vars), 'kubernetes.default.svc.cluster.local');
  assert.deepEqual(evaluate('{{ names }}', vars), ['kubernetes.default.svc.cluster.local', 'static']);
  assert.deepEqual(evaluate('{{ nested }}', vars), { a: 'CLUSTER.LOCAL' });
  // `broken` is never needed, so it never fails anything.
  assert.equal(evaluate('{{ cluster_name }}', vars), 'cluster.local');
});

test('undefined variables are errors unless guarded by default or is defined', () => {
  assert.equal(failure('{{ missing }}').failure.reason, 'undefined variable missing');
  assert.equal(failure('{{ missing }}/ssl').failure.reason, 'undefined variable missing');
  assert.equal(failure('{{ missing | lower }}').failure.reason, 'undefined variable missing');
  assert.equal(failure('{{ missing + 1 }}').failure.reason, 'undefined variable missing');
  assert.equal(failure('{% if missing %}x{% endif %}').failure.reason, 'undefined variable missing');
  assert.equal(failure('{{ a | default(b) }}').failure.reason, 'undefined variables a, b');
  assert.equal(evaluate('{{ missing | default("fallback") }}'), 'fallback');
  assert.equal(evaluate('{{ missing | d(7) }}'), 7);
  assert.equal(evaluate('{{ "" | default("x", true) }}'), 'x');
  assert.equal(evaluate('{{ kubelet_config_dir | default(default_dir) }}', { default_dir: '/d' }), '/d');
  assert.equal(evaluate('{{ missing is defined }}'), false);
  assert.equal(evaluate('{{ missing is not defined }}'), true);
  assert.equal(evaluate('{{ present is defined }}', { present: 1 }), true);
  assert.equal(evaluate("{{ 'a' if missing is undefined else missing }}"), 'a');
});

test('a cycle is an error naming the chain', () => {
  const err = failure('{{ a }}', { a: '{{ b }}', b: 'x{{ v }}' });
  assert.equal(err.failure.reason, 'variable cycle: v → a → b → v');
  assert.equal(failure('{{ v }}').failure.reason, 'variable cycle: v → v');
});

test('an error in a variable that is needed names the failing variable, its expression and where it is', () => {
  const err = failure('{{ kube_config_dir }}/ssl', { kube_config_dir: '{{ base }}/kubernetes' });
  assert.deepEqual(err.failure.path, ['v', 'kube_config_dir']);
  assert.equal(err.failure.expression, '{{ base }}/kubernetes');
  assert.deepEqual(err.failure.location, { file: '/inv/group_vars/all.yml', line: 1 });
  assert.equal(err.failure.reason, 'undefined variable base');
});

test('syntax errors and lookup plugins are errors with a message', () => {
  assert.match(failure('{{ a | }}', { a: 1 }).failure.reason, /^syntax error: /);
  assert.match(failure("{{ lookup('password', '/tmp/x') }}").failure.reason, /lookup\('password', …\) is an Ansible lookup plugin, which kprov does not run/);
  assert.match(failure("{{ '10.0.0.1' | ipaddr('bogus') }}").failure.reason, /ipaddr: unknown filter type: bogus/);
});

test('!unsafe strings are never evaluated', () => {
  assert.equal(evaluate(new UnsafeText('{{ not evaluated }}')), '{{ not evaluated }}');
});

test('the filters Kubespray group_vars use', () => {
  const cases: [string, unknown][] = [
    ["{{ 'yes' | bool }}", true],
    ["{{ 'off' | bool }}", false],
    ['{{ 1 | bool }}', true],
    ["{{ '6443' | int }}", 6443],
    ["{{ '3.9' | int }}", 3],
    ["{{ 'x' | int }}", 0],
    ["{{ 'ff' | int(0, 16) }}", 255],
    ['{{ true | string }}', 'True'],
    ['{{ 12 | string }}', '12'],
    ["{{ 'MiXed' | lower }}", 'mixed'],
    ["{{ 'MiXed' | upper }}", 'MIXED'],
    ["{{ '  pad  ' | trim }}", 'pad'],
    ["{{ 'a-b-c' | replace('-', '_') }}", 'a_b_c'],
    ["{{ 'a-b-c' | replace('-', '_', 1) }}", 'a_b-c'],
    ["{{ 'v1.13.5' | regex_replace('^v', '') }}", '1.13.5'],
    ["{{ 'node12' | regex_replace('^(?P<n>[a-z]+)(\\\\d+)$', '\\\\2-\\\\g<n>') }}", '12-node'],
    ["{{ 'ABC' | regex_replace('b', 'x', ignorecase=true) }}", 'AxC'],
    ["{{ ['a', 'b'] | join(',') }}", 'a,b'],
    ["{{ ['a', 'b'] | first }}", 'a'],
    ["{{ ['a', 'b'] | last }}", 'b'],
    ["{{ ['a', 'b'] | length }}", 2],
    ["{{ 'abc' | length }}", 3],
    ["{{ true | ternary('on', 'off') }}", 'on'],
    ["{{ '' | ternary('on', 'off') }}", 'off'],
    ["{{ none | ternary('on', 'off', 'unset') }}", 'unset'],
    ["{{ '10.233.0.0/18' | ipaddr('net') | ipaddr(3) | ipaddr('address') }}", '10.233.0.3'],
    ["{{ '10.233.0.0/18' | ansible.utils.ipaddr('net') | ansible.utils.ipaddr(10) | ansible.utils.ipaddr('address') }}", '10.233.0.10'],
    ["{{ '10.0.0.1' | ipv4 }}", '10.0.0.1'],
    ["{{ 'fd00::1' | ipv4 }}", false],
    ["{{ 'fd00::1' | ipwrap }}", '[fd00::1]'],
    ["{{ ['a', 'b'] | map('upper') | list }}", ['A', 'B']],
    ["{{ ['x', 'y'] | map('regex_replace', '^(.*)$', '--opt=\\\\1') | join(' ') }}", '--opt=x --opt=y'],
    ["{{ '1.13.5' is version('1.13.0', '>=') }}", true],
    ["{{ 'v1.9.0' is version('v1.13.0', '<') }}", true],
    ["{{ {'a': 1} | combine({'b': 2}) }}", { a: 1, b: 2 }],
    ['{{ range(3) | list }}', [0, 1, 2]],
  ];
  for (const [expr, expected] of cases) assert.deepEqual(evaluate(expr), expected, expr);
});

test('magic variables and hostvars', () => {
  const ev = new Evaluator(
    scopes({
      n1: { ip: '10.0.0.1', peer: "{{ hostvars['n2'].ip }}", me: '{{ inventory_hostname }}', all: "{{ groups['all'] | join(',') }}" },
      n2: { ip: '10.0.0.2', loop: "{{ hostvars['n1'].back }}" },
    }),
  );
  assert.equal(ev.value('n1', 'peer'), '10.0.0.2');
  assert.equal(ev.value('n1', 'me'), 'n1');
  assert.equal(ev.value('n1', 'all'), 'n1,n2');
  assert.throws(() => ev.value('n2', 'loop'), (err: unknown) => err instanceof ExpressionError && /undefined variable hostvars\['n1'\]\.back/.test(err.message));
});

test('singleExpression recognises only strings that are one whole expression', () => {
  assert.equal(singleExpression('{{ a | b }}'), 'a | b');
  assert.equal(singleExpression('{{ a }}/x'), undefined);
  assert.equal(singleExpression('{{ a }}{{ b }}'), undefined);
  assert.equal(singleExpression('{% if a %}{{ a }}{% endif %}'), undefined);
});

test('tests with several arguments work despite nunjucks compiling them without commas', async () => {
  const { packTestArguments } = await import('../../../src/inventory/evaluator.js');
  assert.equal(packTestArguments("x is version('1.2', '<') and y is not version_compare(a(1, 2), '>')"), "x is version(['1.2', '<']) and y is not version_compare([a(1, 2), '>'])");
  assert.equal(packTestArguments("x is odd and 'is version(' in s"), "x is odd and 'is version(' in s");
  assert.equal(evaluate("{{ v1 is version('1.14', '<') and v1 is not version('1.13.0', '<') }}", { v1: 'v1.13.5' }), true);
});

test('a definition shared by hosts is evaluated once, and again where what it uses differs', () => {
  const shared: VarDef = { value: '{{ base }}/{{ leaf }}' };
  const perHost: VarDef = { value: '{{ inventory_hostname }}' };
  const leaf: VarDef = { value: 'x' };
  const mk = (host: string, base: string | undefined): [string, EvalScope] => [
    host,
    {
      vars: new Map<string, VarDef>([['v', shared], ['leaf', leaf], ['me', perHost], ...(base === undefined ? [] : ([['base', { value: base }]] as [string, VarDef][]))]),
      magic: { inventory_hostname: host },
    },
  ];
  const ev = new Evaluator(new Map([mk('a', '/one'), mk('b', '/one'), mk('c', '/two'), mk('d', undefined)]));
  assert.equal(ev.value('a', 'v'), '/one/x');
  assert.equal(ev.value('b', 'v'), '/one/x');
  assert.equal(ev.value('c', 'v'), '/two/x');
  assert.throws(() => ev.value('d', 'v'), /undefined variable base/);
  assert.deepEqual(['a', 'b', 'c', 'd'].map((h) => ev.value(h, 'me')), ['a', 'b', 'c', 'd']);
});
