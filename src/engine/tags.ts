/**
 * `--tags` / `--skip-tags`, with Ansible's rules: a task carries the tags of its play, its role
 * entry in the playbook, its role and itself; the special tags `all`, `always`, `never`,
 * `tagged` and `untagged` mean what they mean in Ansible.
 */

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
