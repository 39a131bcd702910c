import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTemplateRenderer } from '../../../src/engine/template.js';
import { KprovError } from '../../../src/errors.js';

async function templates(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'kprov-tpl-'));
  const dir = path.join(root, 'templates');
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  await writeFile(path.join(root, 'outside.txt'), 'SECRET outside the templates dir');
  return dir;
}

function templateError(fn: () => unknown, file: string, line: number | undefined, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KprovError, String(err));
    assert.equal(err.code, 'template');
    assert.equal(err.location?.file, file);
    assert.equal(err.location?.line, line, err.message);
    assert.match(err.message, message);
    return true;
  });
}

test('renders with trim/lstrip blocks and no HTML escaping', async () => {
  const dir = await templates({
    'systemd/etcd.service.j2': '[Service]\n{% for f in flags %}\n  {{ f }} \\\n{% endfor %}\nExecStart={{ bin }} --name={{ name }} --x="<a&b>"\n',
    'inc/header.j2': '# {{ title }}\n',
    'with-include.j2': '{% include "inc/header.j2" %}body\n',
  });
  const render = createTemplateRenderer(dir);
  const out = render('systemd/etcd.service.j2', { flags: ['--a=1', '--b=2'], bin: '/usr/local/bin/etcd', name: 'node1' });
  assert.equal(out, '[Service]\n  --a=1 \\\n  --b=2 \\\nExecStart=/usr/local/bin/etcd --name=node1 --x="<a&b>"\n');
  assert.equal(render('with-include.j2', { title: 'hi' }), '# hi\nbody\n');
});

test('an undefined variable is an error naming the template file and line', async () => {
  const dir = await templates({ 'kubelet.env.j2': 'A={{ a }}\n\nB={{ node.pod_cidr }}\n', 'outer.j2': 'x\n{% include "inner.j2" %}\n', 'inner.j2': 'one\ntwo {{ missing }}\n' });
  const render = createTemplateRenderer(dir);
  templateError(() => render('kubelet.env.j2', { a: 1, node: {} }), 'templates/kubelet.env.j2', 3, /undefined value in "B=\{\{ node.pod_cidr \}\}"/);
  templateError(() => render('kubelet.env.j2', { node: { pod_cidr: 'x' } }), 'templates/kubelet.env.j2', 1, /undefined value/);
  templateError(() => render('outer.j2', {}), 'templates/inner.j2', 2, /undefined value in "two \{\{ missing \}\}"/);
});

test('syntax errors and unknown filters name the file and line', async () => {
  const dir = await templates({ 'a.j2': 'ok\n{% if x %}\nnever closed\n', 'b.j2': 'a\nb {{ x + }}\n', 'c.j2': 'a\nb\n{{ x | nofilter }}\n', 'd.j2': 'a\n{% endfor %}\n' });
  const render = createTemplateRenderer(dir);
  templateError(() => render('a.j2', { x: 1 }), 'templates/a.j2', 3, /expected/);
  templateError(() => render('b.j2', { x: 1 }), 'templates/b.j2', 2, /unexpected token/);
  templateError(() => render('c.j2', { x: 1 }), 'templates/c.j2', 3, /filter not found: nofilter/);
  templateError(() => render('d.j2', {}), 'templates/d.j2', 2, /unknown block tag: endfor/);
});

test('nothing outside the templates directory can be read', async () => {
  const dir = await templates({ 'ok.j2': 'x', 'evil.j2': '{% include "../outside.txt" %}' });
  await symlink(path.join(dir, '..', 'outside.txt'), path.join(dir, 'link.j2'));
  const render = createTemplateRenderer(dir);
  assert.throws(() => render('../outside.txt', {}), /outside the templates directory/);
  assert.throws(() => render(path.join(dir, '..', 'outside.txt'), {}), /outside the templates directory/);
  assert.throws(() => render('link.j2', {}), /outside the templates directory/);
  assert.throws(() => render('evil.j2', {}), (err: KprovError) => !/SECRET/.test(err.message) && /outside the templates directory/.test(err.message));
  assert.throws(() => render('missing.j2', {}), /template "missing.j2" does not exist/);
});
