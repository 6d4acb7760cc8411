/**
 * Where each millisecond of a switchover's client gap goes: the run's journal (when each step
 * started and ended, when the routers held and released clients) on the clients' clock, and the
 * load's commits on either side.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommitRecord } from '../../src/sandbox/write-load.js';

export const PHASES = [
  'hold clients (PAUSE)',
  'fence (stop, final position)',
  'catch-up',
  'promote',
  'repoint',
  'release (RESUME)',
  'after release: first commit',
] as const;
export type Phase = (typeof PHASES)[number];

export interface JournalLine {
  readonly at: string;
  readonly event: string;
  readonly step?: string;
}

/** The phases of one run in ms; absent when its journal lacks the events (e.g. a failed run). */
export function pauseBreakdown(
  journal: readonly JournalLine[],
  records: readonly CommitRecord[],
  loadStartEpochMs: number,
): Record<Phase, number> | undefined {
  const at = (pick: (e: JournalLine) => boolean): number | undefined => {
    const line = journal.find(pick);
    return line ? Date.parse(line.at) - loadStartEpochMs : undefined;
  };
  const step = (event: 'step-start' | 'step-end', name: string) =>
    at((e) => e.event === event && String(e.step).endsWith(`-${name}`));
  const marks = [
    step('step-start', 'fence-writes'),
    at((e) => e.event === 'clients-held'),
    step('step-end', 'fence-writes'),
    step('step-end', 'wait-catchup'),
    step('step-end', 'promote'),
    step('step-end', 'repoint-pooler'),
    at((e) => e.event === 'clients-released'),
  ];
  if (marks.some((m) => m === undefined)) return undefined;
  const released = marks[marks.length - 1]!;
  const firstCommit = records
    .filter((r) => r.ok && r.doneAt >= released)
    .reduce((min, r) => Math.min(min, r.doneAt), Number.POSITIVE_INFINITY);
  const points = [...(marks as number[]), firstCommit];
  return Object.fromEntries(PHASES.map((phase, i) => [phase, Math.max(0, points[i + 1]! - points[i]!)])) as Record<
    Phase,
    number
  >;
}

/** A run's journal, one object per line (empty when the run has none). */
export async function readJournal(journalDir: string, runId: string | undefined): Promise<JournalLine[]> {
  if (!runId) return [];
  const file = (await readdir(journalDir).catch(() => [] as string[])).find((f) => f.startsWith(runId));
  if (!file) return [];
  return (await readFile(join(journalDir, file), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JournalLine);
}
