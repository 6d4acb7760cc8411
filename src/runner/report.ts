/** The end-of-run report: what happened, how long writes paused, and the zero-loss evidence. */
import { ExitCode } from '../errors.js';
import { formatLsn } from '../model/lsn.js';
import type { Facts, PlanContext } from '../steps/types.js';
import { describeEndState, servesFrom, type EndState } from './end-state.js';

export type Outcome = 'succeeded' | 'refused' | 'rolled-back' | 'interrupted' | 'failed-after-promotion' | 'undo-failed';

export const exitCodeOf: Record<Outcome, number> = {
  succeeded: ExitCode.ok,
  refused: ExitCode.preflightRefused,
  'rolled-back': ExitCode.rolledBack,
  interrupted: ExitCode.interruptedRolledBack,
  'failed-after-promotion': ExitCode.pastPointOfNoReturn,
  'undo-failed': ExitCode.pastPointOfNoReturn,
};

export interface StepTiming {
  readonly id: string;
  readonly title: string;
  readonly status: 'done' | 'failed' | 'skipped' | 'not run' | 'undone';
  readonly durationMs?: number;
}

export interface Report {
  readonly runId: string;
  readonly mode: 'switchover' | 'finish' | 'undo';
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
export function judgeOutcome(provisional: Outcome, end: EndState | undefined, names: { oldPrimary: string; target: string }): Outcome {
  if (!end || provisional === 'refused') return provisional;
  const forward = provisional === 'succeeded' || provisional === 'failed-after-promotion';
  const serving = servesFrom(end, forward ? names.target : names.oldPrimary);
  if (forward) return serving ? provisional : 'failed-after-promotion';
  if (serving) return provisional === 'undo-failed' ? 'rolled-back' : provisional;
  return 'undo-failed';
}

export function buildReport(input: {
  runId: string; mode: Report['mode']; recovers?: string; outcome: Outcome; error?: string; context: PlanContext; facts: Facts;
  steps: StepTiming[]; journal: string; totalMs: number; end?: EndState;
}): Report {
  const { facts, context, end } = input;
  const promoted = facts.promoted;
  const primaryNow = end ? (end.writable.join(' and ') || 'none') : promoted ? context.target.name : context.primary.name;
  const poolers = end
    ? end.poolers.map((p) => ({ name: p.name, pointsAt: p.reachable ? p.pointsAt ?? '?' : 'unreachable', paused: p.paused ?? false }))
    : context.inventory.poolers.map((p) => ({
      name: p.name,
      pointsAt: facts.repointed.has(p.name) ? context.target.name : context.primary.name,
      paused: facts.pausedPoolers.has(p.name),
    }));
  const writePauseMs = facts.fencedAt !== undefined && facts.resumedAt !== undefined ? Math.round(facts.resumedAt - facts.fencedAt) : undefined;
  return {
    runId: input.runId, mode: input.mode, recovers: input.recovers, outcome: input.outcome, exitCode: exitCodeOf[input.outcome], error: input.error,
    oldPrimary: context.primary.name, target: context.target.name, primaryNow, fenceMethod: context.fenceMethod,
    steps: input.steps, writePauseMs,
    finalLsn: facts.finalLsn === undefined ? undefined : formatLsn(facts.finalLsn), finalLsnSource: facts.finalLsnSource,
    targetReplayLsn: facts.targetReplayLsn === undefined ? undefined : formatLsn(facts.targetReplayLsn),
    oldTimeline: facts.oldTimeline ?? context.primaryObs?.timeline, newTimeline: facts.newTimeline,
    poolers, verified: end ? describeEndState(end) : undefined,
    oldPrimaryState: facts.oldPrimaryRole ?? (promoted ? (facts.oldPrimaryStopped ? 'stopped' : 'unknown') : facts.oldPrimaryStopped ? 'stopped' : 'primary'),
    followers: facts.followers, notes: facts.notes, leftToDo: facts.leftToDo, journal: input.journal, totalMs: Math.round(input.totalMs),
  };
}
