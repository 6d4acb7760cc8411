/** What one switchover looked like from the clients' side, from the load's commit records. */
import { longestGap, recordKey, type CommitRecord } from '../../src/sandbox/write-load.js';

export interface ClientView {
  readonly longestGapMs: number;
  readonly gapStartMs: number;
  readonly errors: number;
  readonly missing: number;
  readonly commits: number;
  /**
   * The longest any acknowledged commit sent in the window waited for its answer: the pause as
   * one commit felt it, whatever the number of clients (the longest gap of a client includes its
   * own interval between commits, a second at 500 clients sharing 500 commits/s).
   */
  readonly longestWaitMs: number;
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
    longestWaitMs: records
      .filter((r) => r.ok && r.sentAt >= from && r.sentAt <= to)
      .reduce((max, r) => Math.max(max, r.doneAt - r.sentAt), 0),
  };
}

/** The report the tool printed with --json (its "report" event), or {} when it printed none. */
export function reportOf(stdout: unknown): Record<string, any> {
  const line = String(stdout)
    .split('\n')
    .find((l) => l.includes('"event":"report"'));
  return line ? ((JSON.parse(line) as { report?: Record<string, unknown> }).report ?? {}) : {};
}
