/** What one switchover looked like from the clients' side, from the load's commit records. */
import type { CommitRecord } from '../../src/sandbox/write-load.js';

export interface ClientView {
  readonly longestGapMs: number;
  readonly gapStartMs: number;
  readonly errors: number;
  readonly missing: number;
  readonly commits: number;
}

/** Records whose commit was answered inside [from, to] on the load's clock. */
export function clientView(records: readonly CommitRecord[], from: number, to: number, missingKeys: ReadonlySet<string>): ClientView {
  const inWindow = records.filter((r) => r.doneAt >= from && r.doneAt <= to);
  const byClient = new Map<number, number[]>();
  for (const r of records) {
    if (!r.ok) continue;
    const list = byClient.get(r.client) ?? [];
    list.push(r.doneAt);
    byClient.set(r.client, list);
  }
  let longestGapMs = 0;
  let gapStartMs = from;
  for (const times of byClient.values()) {
    times.sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) {
      const start = times[i - 1]!;
      const gap = times[i]! - start;
      // A gap belongs to this switchover if it overlaps the window.
      if (times[i]! >= from && start <= to && gap > longestGapMs) {
        longestGapMs = gap;
        gapStartMs = start;
      }
    }
  }
  return {
    longestGapMs, gapStartMs,
    errors: inWindow.filter((r) => !r.ok).length,
    missing: inWindow.filter((r) => r.ok && missingKeys.has(`${r.client}/${r.seq}`)).length,
    commits: inWindow.filter((r) => r.ok).length,
  };
}
