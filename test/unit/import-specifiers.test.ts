import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importSpecifiers } from '../support/import-specifiers.js';

const specifiers = (source: string) => importSpecifiers(source).map((i) => `${i.line}:${i.specifier}`);

test('static, type-only, side-effect, re-exports and dynamic imports, with their lines', () => {
  const source = [
    "import assert from 'node:assert/strict';",
    'import {',
    '  a,',
    '  type B,',
    "} from '../src/a.js';",
    "import type { C } from \"./c.js\";",
    "import './side-effect.js';",
    "export * from './all.js';",
    "export { d as e } from './d.js';",
    "const lazy = await import('../dev/lazy.js');",
    "import flags from '../src/k8s/flags-v1.13.json' with { type: 'json' };",
  ].join('\n');
  assert.deepEqual(specifiers(source), [
    '1:node:assert/strict',
    '5:../src/a.js',
    '6:./c.js',
    '7:./side-effect.js',
    '8:./all.js',
    '9:./d.js',
    '10:../dev/lazy.js',
    '11:../src/k8s/flags-v1.13.json',
  ]);
});

test('imports inside comments, strings, template literals and regexes are not imports', () => {
  const source = [
    "// import x from '../test/a.js';",
    "/* import('../test/b.js') */",
    "const s = \"import y from '../test/c.js'\";",
    "const script = `import { z } from '../test/d.js'; ${\"x\"} import('../test/e.js')`;",
    "const re = /import w from '..\\/test\\/f.js'/;",
    "export const ok = 1;",
    "import real from './real.js';",
  ].join('\n');
  assert.deepEqual(specifiers(source), ['7:./real.js']);
});

test('code inside a template substitution is still code', () => {
  assert.deepEqual(specifiers("const t = `${await import('./in-template.js')}`;\nimport after from './after.js';"), [
    '1:./in-template.js',
    '2:./after.js',
  ]);
});

test('a property or identifier named import or from is not an import', () => {
  assert.deepEqual(specifiers("obj.import('./x.js');\nconst items = Array.from('abc');\nexport const from = 'y';"), []);
});
