/**
 * Every process exit code, and the one place each is decided: from an error, from a run's
 * outcome, or from an end that is not a run (a dry run, a declined confirmation). CI reads them:
 * nothing changed (0 or 3), succeeded (0), done but degraded (8: the primary moved and was
 * verified, a replica needs attention), rolled back (4, 6), an operator is needed (5: the
 * primary's state is in doubt).
 */
import { HandoverError } from './errors.js';

export const ExitCode = {
  ok: 0,
  internal: 1,
  badInput: 2,
  preflightRefused: 3,
  rolledBack: 4,
  pastPointOfNoReturn: 5,
  interruptedRolledBack: 6,
  environment: 7,
  /** Done, degraded: the primary moved and was verified; a replica (or the old primary) needs attention (LEFT TO DO). */
  degraded: 8,
} as const;
export type ExitCodeName = keyof typeof ExitCode;

export type Outcome =
  'succeeded' | 'degraded' | 'refused' | 'rolled-back' | 'interrupted' | 'failed-after-promotion' | 'undo-failed';

export const exitCodeOfOutcome: Readonly<Record<Outcome, number>> = {
  succeeded: ExitCode.ok,
  degraded: ExitCode.degraded,
  refused: ExitCode.preflightRefused,
  'rolled-back': ExitCode.rolledBack,
  interrupted: ExitCode.interruptedRolledBack,
  'failed-after-promotion': ExitCode.pastPointOfNoReturn,
  'undo-failed': ExitCode.pastPointOfNoReturn,
};

/** Ends of a command that ran no plan: nothing was changed. */
export const exitCodeOfEnd: Readonly<
  Record<'ready' | 'not-ready' | 'declined' | 'nothing-to-recover' | 'nothing-to-do', number>
> = {
  ready: ExitCode.ok,
  'not-ready': ExitCode.preflightRefused,
  declined: ExitCode.preflightRefused,
  'nothing-to-recover': ExitCode.ok,
  'nothing-to-do': ExitCode.ok,
};

/** `prepare-upgrade`: the initial copy done (ready), still copying (run again), or only a dry run. */
export const exitCodeOfPrepare = (dryRun: boolean, ready: boolean): number =>
  dryRun || ready ? ExitCode.ok : ExitCode.preflightRefused;

/** `demo`: a switchover the clients did not notice, or a run to look at (lost rows, errors, a run that did not succeed). */
export const exitCodeOfDemo = (seen: { missing: number; unexpectedErrors: number; runExitCode: number }): number =>
  seen.missing > 0 || seen.unexpectedErrors > 0 || seen.runExitCode !== ExitCode.ok
    ? ExitCode.pastPointOfNoReturn
    : ExitCode.ok;

/** What a Markdown summary says for an exit code that ended a run before any report. */
export const failureWord = (exitCode: number): string =>
  exitCode === ExitCode.preflightRefused ? 'REFUSED, nothing changed' : 'FAILED';

/** `check`'s verdict: ready, not ready (nothing to do by itself), split brain (an operator, now), no primary answers. */
export const exitCodeOfCheck: Readonly<Record<'ready' | 'not-ready' | 'split-brain' | 'unreachable', number>> = {
  ready: ExitCode.ok,
  'not-ready': ExitCode.preflightRefused,
  'split-brain': ExitCode.pastPointOfNoReturn,
  unreachable: ExitCode.environment,
};

export function exitCodeFor(error: unknown): number {
  if (error instanceof HandoverError) return ExitCode[error.exit];
  return ExitCode.internal;
}
