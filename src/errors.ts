/**
 * The small set of error classes the tool raises on purpose. Each names its exit code;
 * exit-codes.ts is the one place that maps errors and outcomes to process exit codes.
 */
import type { ExitCodeName } from './exit-codes.js';

export class HandoverError extends Error {
  readonly exit: ExitCodeName = 'internal';
}

/** Bad playbook, inventory, flag or DSN: detected before anything is contacted. */
export class BadInputError extends HandoverError {
  override readonly exit = 'badInput' as const;
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Something the tool needs on this machine is missing (binaries, users). */
export class EnvironmentError extends HandoverError {
  override readonly exit = 'environment' as const;
}

/** A read-only check said no: nothing was changed. */
export class PreflightRefusedError extends HandoverError {
  override readonly exit = 'preflightRefused' as const;
}

/** A step failed or timed out; carries what happened so the runner can decide. */
export class StepFailedError extends HandoverError {
  constructor(
    message: string,
    readonly stepId?: string,
  ) {
    super(message);
  }
}

export class TimeoutError extends StepFailedError {}

/**
 * A promotion asked of a platform (a promote hook) that did not start: the hook failed or timed
 * out and the target still answers as a replica. The step says so, and the runner withdraws the
 * point of no return it had marked, so the run rolls back instead of rolling forward.
 */
export class PromotionNotStartedError extends StepFailedError {}
