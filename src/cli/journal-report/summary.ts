/**
 * A journal (one run's JSON lines) read back into what a postmortem needs: the timeline of steps
 * with their times, when clients were held and released, the LSN proof, the verified end state,
 * the data-loss estimate and what is left to do. Pure: the events in, the summary out.
 */

export interface StepLine {
  readonly id: string;
  readonly title: string;
  readonly status: 'done' | 'failed' | 'skipped' | 'undone' | 'started';
  /** Milliseconds from the run's start. */
  readonly startMs: number;
  readonly durationMs: number;
  readonly said?: string;
}

export interface RunSummary {
  readonly runId: string;
  readonly procedure: string;
  readonly inventory: string;
  readonly startedAt: string;
  readonly oldPrimary: string;
  readonly target: string;
  readonly steps: readonly StepLine[];
  /** When clients were held, from the run's start (the fence's start to the release). */
  readonly held?: { readonly fromMs: number; readonly toMs: number };
  readonly outcome: string;
  readonly exitCode?: number;
  readonly verified?: string;
  readonly writePauseMs?: number;
  readonly finalLsn?: string;
  readonly finalLsnSource?: string;
  readonly targetReplayLsn?: string;
  readonly possibleLoss?: string;
  readonly leftToDo: readonly string[];
  readonly notes: readonly string[];
  readonly rolledBack?: string;
}

type Event = Readonly<Record<string, unknown>>;

const HOLDS = /fence-writes|fence-old-primary/;

export function summarize(events: readonly Event[]): RunSummary {
  const start = events.find((e) => e.event === 'run-start') ?? {};
  const t0 = Date.parse(String(start.at ?? events[0]?.at ?? 0));
  const at = (e: Event) => Date.parse(String(e.at)) - t0;
  const steps = new Map<string, StepLine>();
  for (const e of events) {
    const id = String(e.step ?? '');
    if (e.event === 'step-start') steps.set(id, { id, title: String(e.title ?? id), status: 'started', startMs: at(e), durationMs: 0 });
    const begun = steps.get(id);
    if (!begun) continue;
    if (e.event === 'step-end') steps.set(id, { ...begun, status: 'done', durationMs: Number(e.durationMs ?? 0), said: String(e.summary ?? '') });
    if (e.event === 'step-failed') steps.set(id, { ...begun, status: 'failed', durationMs: Number(e.durationMs ?? 0), said: String(e.error ?? '') });
    if (e.event === 'undo-end') steps.set(id, { ...begun, status: 'undone', said: `${begun.said ? `${begun.said}; ` : ''}undone: ${String(e.summary ?? '')}` });
  }
  const report = (events.find((e) => e.event === 'report')?.report ?? {}) as Record<string, unknown>;
  const ordered = [...steps.values()].sort((a, b) => a.startMs - b.startMs);
  const fence = ordered.find((s) => HOLDS.test(s.id));
  const pause = typeof report.writePauseMs === 'number' ? report.writePauseMs : undefined;
  const rollback = events.find((e) => e.event === 'rollback-start');
  return {
    runId: String(start.runId ?? report.runId ?? '?'),
    procedure: String(start.procedure ?? report.mode ?? '?'),
    inventory: String(start.inventory ?? '?'),
    startedAt: String(start.at ?? '?'),
    oldPrimary: String(start.primary ?? report.oldPrimary ?? '?'),
    target: String(start.target ?? report.target ?? '?'),
    steps: ordered,
    held: fence && pause !== undefined ? { fromMs: fence.startMs, toMs: fence.startMs + pause } : undefined,
    outcome: String(report.outcome ?? 'unfinished (no report: the run was cut short; see its last events)'),
    exitCode: typeof report.exitCode === 'number' ? report.exitCode : undefined,
    verified: report.verified as string | undefined,
    writePauseMs: pause,
    finalLsn: report.finalLsn as string | undefined,
    finalLsnSource: report.finalLsnSource as string | undefined,
    targetReplayLsn: report.targetReplayLsn as string | undefined,
    possibleLoss: report.possibleLoss as string | undefined,
    leftToDo: (report.leftToDo as string[] | undefined) ?? [],
    notes: (report.notes as string[] | undefined) ?? [],
    rolledBack: rollback ? String(rollback.reason ?? '') : undefined,
  };
}

/** The lines of a journal file, a line cut short by a SIGKILL skipped. */
export function parseJournal(text: string): Event[] {
  return text.split('\n').flatMap((line) => {
    try {
      return line ? [JSON.parse(line) as Event] : [];
    } catch {
      return [];
    }
  });
}
