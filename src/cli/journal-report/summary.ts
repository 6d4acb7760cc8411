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

/** A journal field as text: what a line holds is JSON, so anything not a primitive is shown as JSON. */
const text = (value: unknown): string =>
  typeof value === 'string'
    ? value
    : typeof value === 'object' && value !== null
      ? JSON.stringify(value)
      : String(value);

export function summarize(events: readonly Event[]): RunSummary {
  const start = events.find((e) => e.event === 'run-start') ?? {};
  const t0 = Date.parse(text(start.at ?? events[0]?.at ?? 0));
  const at = (e: Event) => Date.parse(text(e.at)) - t0;
  const steps = new Map<string, StepLine>();
  for (const e of events) {
    const id = text(e.step ?? '');
    if (e.event === 'step-start')
      steps.set(id, { id, title: text(e.title ?? id), status: 'started', startMs: at(e), durationMs: 0 });
    const begun = steps.get(id);
    if (!begun) continue;
    if (e.event === 'step-end')
      steps.set(id, { ...begun, status: 'done', durationMs: Number(e.durationMs ?? 0), said: text(e.summary ?? '') });
    if (e.event === 'step-failed')
      steps.set(id, { ...begun, status: 'failed', durationMs: Number(e.durationMs ?? 0), said: text(e.error ?? '') });
    if (e.event === 'undo-end')
      steps.set(id, {
        ...begun,
        status: 'undone',
        said: `${begun.said ? `${begun.said}; ` : ''}undone: ${text(e.summary ?? '')}`,
      });
  }
  const report = (events.find((e) => e.event === 'report')?.report ?? {}) as Record<string, unknown>;
  const ordered = [...steps.values()].sort((a, b) => a.startMs - b.startMs);
  const fence = ordered.find((s) => HOLDS.test(s.id));
  const pause = typeof report.writePauseMs === 'number' ? report.writePauseMs : undefined;
  const rollback = events.find((e) => e.event === 'rollback-start');
  return {
    runId: text(start.runId ?? report.runId ?? '?'),
    procedure: text(start.procedure ?? report.mode ?? '?'),
    inventory: text(start.inventory ?? '?'),
    startedAt: text(start.at ?? '?'),
    oldPrimary: text(start.primary ?? report.oldPrimary ?? '?'),
    target: text(start.target ?? report.target ?? '?'),
    steps: ordered,
    held: fence && pause !== undefined ? { fromMs: fence.startMs, toMs: fence.startMs + pause } : undefined,
    outcome: text(report.outcome ?? 'unfinished (no report: the run was cut short; see its last events)'),
    exitCode: typeof report.exitCode === 'number' ? report.exitCode : undefined,
    verified: report.verified as string | undefined,
    writePauseMs: pause,
    finalLsn: report.finalLsn as string | undefined,
    finalLsnSource: report.finalLsnSource as string | undefined,
    targetReplayLsn: report.targetReplayLsn as string | undefined,
    possibleLoss: report.possibleLoss as string | undefined,
    leftToDo: (report.leftToDo as string[] | undefined) ?? [],
    notes: (report.notes as string[] | undefined) ?? [],
    rolledBack: rollback ? text(rollback.reason ?? '') : undefined,
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
