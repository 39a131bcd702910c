/**
 * What test/run.ts needs from a `node --test` TAP report: the run's totals and every skipped test
 * with its reason. Nested tests are named with their parents: `suite > test`.
 */

export interface SkippedTest {
  name: string;
  reason: string;
}

export interface TapSummary {
  pass: number;
  fail: number;
  cancelled: number;
  /** Skipped tests and suites, in report order. */
  skipped: SkippedTest[];
}

const SUBTEST = /^(\s*)# Subtest: (.*)$/;
const RESULT = /^(\s*)(?:not )?ok \d+ - (.*?) # SKIP(?: (.*))?$/;
/** The run's totals: unindented, at the end (a test's own output could print lookalikes earlier). */
const TOTAL = /^# (pass|fail|cancelled) (\d+)$/;

/** Node escapes `#` and `\` in TAP test names. */
const unescapeName = (name: string) => name.replace(/\\(.)/g, '$1');

export function summarizeTap(tap: string): TapSummary {
  const totals = { pass: 0, fail: 0, cancelled: 0 };
  const skipped: SkippedTest[] = [];
  // The `# Subtest:` lines still open around the current line, innermost last.
  const open: { indent: number; name: string }[] = [];
  for (const line of tap.split('\n')) {
    const subtest = SUBTEST.exec(line);
    if (subtest) {
      const indent = subtest[1]!.length;
      while (open.length > 0 && open[open.length - 1]!.indent >= indent) open.pop();
      open.push({ indent, name: unescapeName(subtest[2]!) });
      continue;
    }
    const result = RESULT.exec(line);
    if (result) {
      const indent = result[1]!.length;
      const parents = open.filter((s) => s.indent < indent).map((s) => s.name);
      skipped.push({ name: [...parents, unescapeName(result[2]!)].join(' > '), reason: result[3]?.trim() || 'no reason given' });
      continue;
    }
    const total = TOTAL.exec(line);
    if (total) totals[total[1] as keyof typeof totals] = Number(total[2]);
  }
  return { ...totals, skipped };
}
