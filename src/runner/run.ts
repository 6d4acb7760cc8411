/**
 * Runs a plan. Owns ordering, timing, rollback and roll-forward:
 * - before promotion, any failure, timeout or interrupt undoes the completed steps in reverse;
 * - once promotion was requested there is no undo: the remaining steps run (if promotion was
 *   confirmed) and whatever is left is reported.
 */
import type { Connections } from '../cluster/connections.js';
import { PreflightRefusedError, PromotionNotStartedError, TimeoutError } from '../errors.js';
import { within } from '../util/time.js';
import type { NodeSpec } from '../inventory/model.js';
import type { Plan, PlannedStep } from '../playbook/plan.js';
import { messageOf } from '../postgres/session.js';
import { hostRunnerFor, type HostRunner } from '../shell/host.js';
import { primariesOf, type ClusterState } from '../model/cluster-state.js';
import type { Step } from '../playbook/schema.js';
import type { Outputs } from '../steps/outputs.js';
import { definitionOf as registered, kindOf } from '../steps/registry.js';
import {
  performInOrder,
  type Action,
  type NoReturn,
  type PlanContext,
  type RunLog,
  type StepContext,
} from '../steps/types.js';
import type { Emit } from './events.js';
import type { Journal } from './journal.js';
import { describeEndState, observeEndState, type EndState } from './end-state.js';
import { FENCE_MODES } from '../steps/fence-modes.js';
import { buildReport, judgeOutcome, type Outcome, type Report, type ReportSection, type StepTiming } from './report.js';

export interface RunDeps {
  readonly connections: Connections;
  /** Each step's output, fresh or seeded (finishing or undoing a half-done run). */
  readonly outputs: Outputs;
  /** Where the point of no return stands at the start (already crossed, when finishing a half-done run). */
  readonly noReturn?: NoReturn;
  readonly journal: Pick<Journal, 'runId' | 'file' | 'write'>;
  readonly emit: Emit;
  /** Aborted on Ctrl-C; honoured only before the point of no return. */
  readonly signal: AbortSignal;
  /** Run id of the half-done run this one finishes or undoes. */
  readonly recovers?: string;
  /** How each step is done and undone (the step registry; unit tests pass fakes). */
  readonly definitions?: (step: Step) => Definition;
  /** Observes the end state the headline is judged from (unit tests pass a fixed one). */
  readonly observeEnd?: (connections: Connections, state: ClusterState) => Promise<EndState>;
  /** What the procedure says is left to do when its point of no return was requested but not confirmed. */
  readonly unconfirmed?: (ctx: StepContext) => string[];
  /** The procedure's own report lines. */
  readonly reportSection?: (context: PlanContext, outputs: Outputs, noReturn: NoReturn) => ReportSection;
  /** How long past its pause budget a step may run before the runner stops waiting for it (default 2 s). */
  readonly graceMs?: number;
}

type Definition = ReturnType<typeof registered>;

export async function runPlan(plan: Plan, deps: RunDeps): Promise<Report> {
  const started = performance.now();
  const { journal } = deps;
  const definitionOf = deps.definitions ?? registered;
  const noReturn: NoReturn = deps.noReturn ?? { requested: false, confirmed: false };
  const log: RunLog = { notes: [], leftToDo: [], degraded: [] };
  const hosts = new Map<string, HostRunner | undefined>();
  const ctx: StepContext = {
    ...plan.context,
    connections: deps.connections,
    outputs: deps.outputs,
    noReturn,
    log,
    signal: deps.signal,
    runId: journal.runId,
    applicationName: deps.connections.applicationName,
    host: (node: NodeSpec) => {
      if (!hosts.has(node.name)) hosts.set(node.name, hostRunnerFor(node));
      return hosts.get(node.name);
    },
    record: (event, data) => journal.write(event, data),
  };
  const timings = new Map<string, StepTiming>(
    plan.steps.map((s) => [s.id, { id: s.id, title: s.title, status: 'not run' }]),
  );
  const touched: PlannedStep[] = [];
  let failure: { step: PlannedStep; error: unknown } | undefined;

  for (const step of plan.steps) {
    if (deps.signal.aborted && !noReturn.requested) break;
    if (failure && !noReturn.requested) break;
    if (step.phase === 'after-promotion' && !noReturn.confirmed) {
      skip(step, 'promotion was not confirmed');
      continue;
    }
    const t0 = performance.now();
    deps.emit({ type: 'step-start', step });
    journal.write('step-start', { step: step.id, title: step.title });
    try {
      const summary = await withDeadline(
        definitionOf(step.step),
        step,
        perform(definitionOf(step.step), step.step, ctx, deps.outputs),
        deps.graceMs ?? 2000,
      );
      const durationMs = performance.now() - t0;
      timings.set(step.id, { id: step.id, title: step.title, status: 'done', durationMs });
      deps.emit({ type: 'step-end', step, durationMs, summary });
      journal.write('step-end', { step: step.id, durationMs: round(durationMs), summary });
      touched.push(step);
    } catch (error) {
      const durationMs = performance.now() - t0;
      const message = deps.signal.aborted && !noReturn.requested ? 'interrupted' : messageOf(error);
      timings.set(step.id, { id: step.id, title: step.title, status: 'failed', durationMs });
      deps.emit({ type: 'step-failed', step, durationMs, error: message });
      journal.write('step-failed', { step: step.id, durationMs: round(durationMs), error: message });
      touched.push(step);
      failure ??= { step, error };
    }
  }

  let outcome: Outcome;
  if (plan.mode === 'undo') {
    outcome = failure ? 'undo-failed' : 'rolled-back';
  } else if (noReturn.requested) {
    outcome = failure ? 'failed-after-promotion' : 'succeeded';
    if (!noReturn.confirmed) log.leftToDo.push(...(deps.unconfirmed?.(ctx) ?? []));
  } else if (failure?.error instanceof PreflightRefusedError && failure.step.step.kind === 'preflight') {
    outcome = 'refused';
  } else if (failure || deps.signal.aborted) {
    outcome = deps.signal.aborted ? 'interrupted' : 'rolled-back';
    await rollback(ctx, touched, deps, timings, deps.signal.aborted ? 'interrupted' : messageOf(failure!.error));
  } else {
    outcome = 'succeeded';
  }
  // Stragglers: the primary moved and is verified below; a replica that did not follow is left to do.
  if (outcome === 'succeeded' && log.degraded.length) outcome = 'degraded';
  // The headline comes from what is verified now, not from the path the run took.
  const end =
    outcome === 'refused'
      ? undefined
      : await (deps.observeEnd ?? observeEndState)(deps.connections, plan.context.state);
  const judged = judgeOutcome(outcome, end, {
    oldPrimary: plan.context.primary.name,
    target: plan.context.target.name,
    oldPrimaryDown: FENCE_MODES[plan.context.fenceMethod].failover === true,
    servedAtStart: servedAtStart(plan.context.state),
  });
  if (end && judged !== outcome)
    log.leftToDo.push(`the run ended as "${outcome}", but the verified end state is: ${describeEndState(end)}`);
  outcome = judged;
  const report = buildReport({
    end,
    runId: journal.runId,
    mode: plan.mode,
    recovers: deps.recovers,
    outcome,
    error: failure ? messageOf(failure.error) : deps.signal.aborted ? 'interrupted' : undefined,
    context: plan.context,
    outputs: deps.outputs,
    noReturn,
    log,
    steps: [...timings.values()],
    journal: journal.file,
    totalMs: performance.now() - started,
    section: deps.reportSection?.(plan.context, deps.outputs, noReturn),
  });
  journal.write('report', { report });
  deps.emit({ type: 'run-end', report });
  return report;

  function skip(step: PlannedStep, reason: string) {
    timings.set(step.id, { id: step.id, title: step.title, status: 'skipped' });
    deps.emit({ type: 'step-skipped', step, reason });
    journal.write('step-skipped', { step: step.id, reason });
  }
}

async function rollback(
  ctx: StepContext,
  touched: PlannedStep[],
  deps: RunDeps,
  timings: Map<string, StepTiming>,
  reason: string,
) {
  const definitionOf = deps.definitions ?? registered;
  deps.emit({ type: 'rollback-start', reason });
  deps.journal.write('rollback-start', { reason });
  // Undo must not be cut short by the interrupt that caused it.
  const undoCtx: StepContext = { ...ctx, signal: new AbortController().signal };
  for (const step of [...touched].reverse()) {
    const definition = definitionOf(step.step);
    if (!definition.undo) continue;
    try {
      const summary = await definition.undo(step.step as never, undoCtx, outputOf(definition, deps.outputs));
      const before = timings.get(step.id)!;
      timings.set(step.id, { ...before, status: before.status === 'failed' ? 'failed' : 'undone' });
      deps.emit({ type: 'undo-end', step, summary });
      deps.journal.write('undo-end', { step: step.id, summary });
    } catch (error) {
      const message = messageOf(error);
      ctx.log.leftToDo.push(`undo of "${step.title}" failed: ${message}`);
      deps.emit({ type: 'undo-failed', step, error: message });
      deps.journal.write('undo-failed', { step: step.id, error: message });
    }
  }
}

/** A step gets its own output (another kind's when it says so), or a scratch record of its own. */
function outputOf(definition: Definition, outputs: Outputs): unknown {
  const key = (definition.outputOf ?? kindOf(definition)) as keyof Outputs;
  return outputs[key] ?? {};
}

/**
 * A step that holds clients has a budget (its share of the pause). Steps bound themselves; this
 * is the backstop for one that does not (a hung syscall, a bug): past budget + grace the runner
 * stops waiting and treats it as timed out, so a rollback (or the roll-forward) starts anyway.
 */
async function withDeadline(
  definition: Definition,
  step: PlannedStep,
  work: Promise<string>,
  graceMs: number,
): Promise<string> {
  const budget = definition.pauseBudget?.(step.step as never);
  if (budget === undefined) return work;
  const late = Symbol('late');
  const result = await within<string | typeof late>(work, budget + graceMs, late);
  if (result === late)
    throw new TimeoutError(
      `${step.title} did not finish within its budget of ${budget} ms (+${graceMs} ms); the runner stopped waiting for it`,
    );
  return result;
}

/** The step's actions, made once, run by the step (or in order). */
function perform(definition: Definition, step: Step, ctx: StepContext, outputs: Outputs): Promise<string> {
  const out = outputOf(definition, outputs);
  const actions = markingNoReturn(definition.actions(step as never, ctx));
  return definition.run ? definition.run(step as never, ctx, out, actions) : performInOrder(actions, ctx, out);
}

/**
 * The runner marks the point of no return: an action that crosses it runs only after
 * noReturn.requested is set and journalled, so from then on nothing is undone, whatever happens.
 */
export function markingNoReturn<O>(actions: readonly Action<O>[]): Action<O>[] {
  return actions.map((action) => {
    const { noReturn, run } = action;
    if (!noReturn) return action;
    return {
      ...action,
      run: async (ctx: StepContext, out: O) => {
        ctx.noReturn.requested = true;
        ctx.record('point-of-no-return', noReturn(ctx, out));
        try {
          return await run?.(ctx, out);
        } catch (error) {
          // A platform's promotion that never started (its hook failed, the target is still a
          // replica): withdrawn, journalled, so this run and a guardian both roll back.
          if (error instanceof PromotionNotStartedError) {
            ctx.noReturn.requested = false;
            ctx.record('point-of-no-return-withdrawn', { reason: error.message });
          }
          throw error;
        }
      },
    };
  });
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** The one writable primary the run found, if there was exactly one. */
function servedAtStart(state: ClusterState): string | undefined {
  const writable = primariesOf(state);
  return writable.length === 1 ? writable[0]!.name : undefined;
}
