/** What one switchover looked like from the clients' side, from the load's commit records. */
import { longestGap, recordKey, type CommitRecord } from '../../src/sandbox/write-load.js';

export interface ClientView {
  readonly longestGapMs: number;
  readonly gapStartMs: number;
  readonly errors: number;
  readonly missing: number;
  readonly commits: number;
}

/** Commits answered inside [from, to] on the load's clock; a gap counts if it overlaps the window. */
export function clientView(
  records: readonly CommitRecord[],
  from: number,
  to: number,
  missingKeys: ReadonlySet<string>,
): ClientView {
  const inWindow = records.filter((r) => r.doneAt >= from && r.doneAt <= to);
  const gap = longestGap(records, from, to);
  return {
    longestGapMs: gap.gapMs,
    gapStartMs: gap.fromMs,
    errors: inWindow.filter((r) => !r.ok).length,
    missing: inWindow.filter((r) => r.ok && missingKeys.has(recordKey(r))).length,
    commits: inWindow.filter((r) => r.ok).length,
  };
}

/** The report the tool printed with --json (its "report" event), or {} when it printed none. */
export function reportOf(stdout: unknown): Record<string, any> {
  const line = String(stdout)
    .split('\n')
    .find((l) => l.includes('"event":"report"'));
  return line ? ((JSON.parse(line) as { report?: Record<string, unknown> }).report ?? {}) : {};
}
