/**
 * `--tags` / `--skip-tags`, with Ansible's rules: a task carries the tags of its play, its role
 * entry in the playbook, its role and itself; the special tags `all`, `always`, `never`,
 * `tagged` and `untagged` mean what they mean in Ansible. Unlike Ansible, a tag no part of the
 * playbook carries is refused before anything runs.
 */
import { closestMatch } from '../did-you-mean.js';
import { KprovError } from '../errors.js';

export interface TagFilter {
  /** Run only tasks with one of these tags; `['all']` (the default) runs every task not tagged `never`. */
  only: readonly string[];
  skip: readonly string[];
}

export const ALL_TAGS: TagFilter = { only: ['all'], skip: [] };

/** Splits repeated/comma-separated option values: `--tags a,b --tags c` → [a, b, c]. */
export function parseTagList(values: readonly string[] | string | undefined): string[] {
  if (values === undefined) return [];
  const list = typeof values === 'string' ? [values] : values;
  return list.flatMap((v) => v.split(',')).map((t) => t.trim()).filter((t) => t !== '');
}

export function tagFilter(tags: readonly string[], skipTags: readonly string[]): TagFilter {
  return { only: tags.length > 0 ? tags : ['all'], skip: skipTags };
}

/** Whether a task with these (combined) tags runs under the filter. */
export function shouldRun(taskTags: readonly string[], filter: TagFilter): boolean {
  const tags = new Set(taskTags.length > 0 ? taskTags : ['untagged']);
  const only = new Set(filter.only);
  const skip = new Set(filter.skip);
  const tagged = !(tags.size === 1 && tags.has('untagged'));
  const intersects = (set: Set<string>) => [...tags].some((t) => set.has(t));

  let run: boolean;
  if (tags.has('always')) run = true;
  else if (only.has('all') && !tags.has('never')) run = true;
  else if (intersects(only)) run = true;
  else run = only.has('tagged') && tagged && !tags.has('never');

  if (run && skip.size > 0) {
    if (skip.has('all')) run = tags.has('always') && !skip.has('always');
    else if (intersects(skip)) run = false;
    else if (skip.has('tagged') && tagged) run = false;
  }
  return run;
}

/** More own task tags than this and a role is assumed to have a selected task (2^n combinations). */
const MAX_ENUMERATED_TASK_TAGS = 10;

/**
 * Whether any task of a role can run under the filter: each task carries the role's tags plus
 * some of the tags the role declares for its tasks (`taskTags`, special tags included), so every
 * combination is tried. A role with none selected is not validated, prepared or listed.
 */
export function mayRunAnyTask(roleTags: readonly string[], taskTags: readonly string[], filter: TagFilter): boolean {
  const own = [...new Set(taskTags)].filter((t) => !roleTags.includes(t));
  if (own.length > MAX_ENUMERATED_TASK_TAGS) return true;
  for (let mask = 0; mask < 1 << own.length; mask++) {
    if (shouldRun([...roleTags, ...own.filter((_, i) => (mask & (1 << i)) !== 0)], filter)) return true;
  }
  return false;
}

/** Ansible's special tags: valid in `--tags`/`--skip-tags` whatever the playbook's tasks carry. */
export const SPECIAL_TAGS: readonly string[] = ['all', 'always', 'never', 'tagged', 'untagged'];

export interface TagOptions {
  tags: readonly string[];
  skipTags: readonly string[];
}

/**
 * Refuses `--tags`/`--skip-tags` values that no play, role entry, role or task of the playbook
 * carries (Ansible silently selects nothing for them, so a typo would run nothing and exit 0).
 * `known` is the playbook's own tags; the special tags are always accepted.
 */
export function requireKnownTags(options: TagOptions, known: ReadonlySet<string>, playbookName: string): void {
  const valid = (t: string) => known.has(t) || SPECIAL_TAGS.includes(t);
  const candidates = [...new Set([...known, ...SPECIAL_TAGS])].sort();
  const problems = [
    ...options.tags.filter((t) => !valid(t)).map((t) => ({ tag: t, option: '--tags' })),
    ...options.skipTags.filter((t) => !valid(t)).map((t) => ({ tag: t, option: '--skip-tags' })),
  ];
  if (problems.length === 0) return;
  const described = problems.map(({ tag, option }) => {
    const near = closestMatch(tag, candidates);
    return `"${tag}" in ${option}${near ? ` (did you mean "${near}"?)` : ''}`;
  });
  const own = [...known].filter((t) => !SPECIAL_TAGS.includes(t)).sort();
  throw new KprovError('usage', `unknown tag${problems.length === 1 ? '' : 's'} ${described.join(', ')}`, {
    hint: `${playbookName} has the tags ${own.length > 0 ? own.join(', ') : '(none)'}; special tags: ${SPECIAL_TAGS.join(', ')}`,
  });
}
