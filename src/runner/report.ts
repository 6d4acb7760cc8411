/** The end-of-run report: what happened, how long writes paused, and the zero-loss evidence. */
import { exitCodeOfOutcome, type Outcome } from '../exit-codes.js';
import { formatLsn } from '../model/lsn.js';
import { oldTimelineOf, stillHeld, type Outputs } from '../steps/outputs.js';
import type { NoReturn, PlanContext, RunLog } from '../steps/types.js';
import { describeEndState, servesFrom, type EndState } from './end-state.js';

export interface StepTiming {
  readonly id: string;
  readonly title: string;
  readonly status: 'done' | 'failed' | 'skipped' | 'not run' | 'undone';
  readonly durationMs?: number;
}

/** What a procedure says in the report itself (a failover: how the old primary was fenced, what may be lost). */
export interface ReportSection {
  readonly oldPrimaryState?: string;
  readonly possibleLoss?: string;
}

export interface Report {
  readonly runId: string;
  /** The procedure's name, or 'finish'/'undo' for a half-done run. */
  readonly mode: string;
  /** The unfinished run this one finished or undid. */
  readonly recovers?: string;
  readonly outcome: Outcome;
  readonly exitCode: number;
  readonly error?: string;
  readonly oldPrimary: string;
  readonly target: string;
  readonly primaryNow: string;
  readonly fenceMethod?: string;
  readonly steps: readonly StepTiming[];
  readonly writePauseMs?: number;
  readonly finalLsn?: string;
  readonly finalLsnSource?: string;
  readonly targetReplayLsn?: string;
  readonly oldTimeline?: number;
  readonly newTimeline?: number;
  readonly poolers: ReadonlyArray<{ name: string; pointsAt: string; paused: boolean }>;
  /** The end state as observed after the run, in one line; the headline was judged from it. */
  readonly verified?: string;
  readonly oldPrimaryState: string;
  /** A failover's estimate of what may be lost, as the plan said it. */
  readonly possibleLoss?: string;
  readonly followers: Readonly<Record<string, string>>;
  readonly notes: readonly string[];
  readonly leftToDo: readonly string[];
  readonly journal: string;
  readonly totalMs: number;
}

/**
 * The outcome the verified end state supports. `provisional` is what the run path concluded;
 * a success or a rollback stands only if the node it meant to leave serving is the one writer
 * and every pooler sends clients to it, unpaused. Pure.
 */
export type { Outcome };

export function judgeOutcome(
  provisional: Outcome,
  end: EndState | undefined,
  names: {
    oldPrimary: string;
    target: string;
    oldPrimaryDown?: boolean;
    /**
     * The one writable primary observed when the run started, when it is not the old primary: a
     * rejoin's (its "old primary" is the node it rejoins, down or fenced; the cluster is served
     * by the primary it follows). Undone, a run leaves that node serving.
     */
    servedAtStart?: string;
  },
): Outcome {
  if (!end || provisional === 'refused') return provisional;
  const asStarted = names.servedAtStart ?? names.oldPrimary;
  const forward = provisional === 'succeeded' || provisional === 'degraded' || provisional === 'failed-after-promotion';
  // A failover that stopped before promotion leaves the cluster as it found it: the old primary
  // down or hung, nobody else writable, the poolers released towards it.
  const asFound =
    names.oldPrimaryDown === true &&
    !end.writable.some((n) => n !== names.oldPrimary) &&
    end.poolers.every((p) => p.reachable && p.pointsAt === names.oldPrimary && !p.paused);
  const serving = forward ? servesFrom(end, names.target) : servesFrom(end, asStarted) || asFound;
  if (forward) return serving ? provisional : 'failed-after-promotion';
  if (serving) return provisional === 'undo-failed' ? 'rolled-back' : provisional;
  return 'undo-failed';
}

export function buildReport(input: {
  runId: string;
  mode: Report['mode'];
  recovers?: string;
  outcome: Outcome;
  error?: string;
  context: PlanContext;
  outputs: Outputs;
  noReturn: NoReturn;
  log: RunLog;
  steps: StepTiming[];
  journal: string;
  totalMs: number;
  end?: EndState;
  /** The procedure's own lines (procedures/<name>/report.ts), over the defaults. */
  section?: ReportSection;
}): Report {
  const { outputs, context, end } = input;
  const fence = outputs['fence-writes'];
  const promoted = input.noReturn.confirmed;
  const held = stillHeld(outputs);
  const primaryNow = end ? end.writable.join(' and ') || 'none' : promoted ? context.target.name : context.primary.name;
  const poolers = end
    ? end.poolers.map((p) => ({
        name: p.name,
        pointsAt: p.reachable ? (p.pointsAt ?? '?') : 'unreachable',
        paused: p.paused ?? false,
      }))
    : context.inventory.poolers.map((p) => ({
        name: p.name,
        pointsAt: outputs['repoint-pooler'].repointed.has(p.name) ? context.target.name : context.primary.name,
        paused: held.has(p.name),
      }));
  const releasedAt = outputs.resume.resumedAt ?? fence.releasedAt;
  const writePauseMs =
    fence.startedAt !== undefined && releasedAt !== undefined ? Math.round(releasedAt - fence.startedAt) : undefined;
  const replayed = outputs.promote.targetReplayLsn ?? outputs['wait-catchup'].targetReplayLsn;
  const demoted = outputs['demote-old-primary'];
  return {
    runId: input.runId,
    mode: input.mode,
    recovers: input.recovers,
    outcome: input.outcome,
    exitCode: exitCodeOfOutcome[input.outcome],
    error: input.error,
    oldPrimary: context.primary.name,
    target: context.target.name,
    primaryNow,
    fenceMethod: context.fenceMethod,
    steps: input.steps,
    writePauseMs,
    finalLsn: fence.finalLsn === undefined ? undefined : formatLsn(fence.finalLsn),
    finalLsnSource: fence.finalLsnSource,
    targetReplayLsn: replayed === undefined ? undefined : formatLsn(replayed),
    oldTimeline: oldTimelineOf(outputs) ?? context.primaryObs?.timeline,
    newTimeline: outputs.resume.newTimeline,
    poolers,
    verified: end
      ? describeEndState(
          end,
          context.fenceMethod === 'fence-command' && input.noReturn.requested ? [context.primary.name] : [],
        )
      : undefined,
    oldPrimaryState:
      input.section?.oldPrimaryState ??
      outputs.rejoin.role ??
      demoted.role ??
      (demoted.started ? 'unknown' : fence.stopped ? 'stopped' : promoted ? 'unknown' : 'primary'),
    possibleLoss: input.section?.possibleLoss,
    followers: outputs.follow.followers,
    notes: input.log.notes,
    leftToDo: input.log.leftToDo,
    journal: input.journal,
    totalMs: Math.round(input.totalMs),
  };
}
