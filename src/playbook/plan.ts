/**
 * A plan: a playbook's steps, each described against one decided context. The same plan drives
 * the dry run, the progress view, the journal and the report. Pure.
 */
import type { Check } from '../decide/checks.js';
import { definitionOf } from '../steps/registry.js';
import type { PlanContext } from '../steps/types.js';
import type { Step } from './schema.js';

export type Phase = 'before-promotion' | 'promotion' | 'after-promotion';

export interface PlannedStep {
  readonly index: number;
  readonly id: string;
  readonly title: string;
  readonly step: Step;
  readonly phase: Phase;
  readonly actions: readonly string[];
  readonly undoable: boolean;
}

export interface Plan {
  readonly playbook: string;
  /** The procedure's name, or finishing/undoing a run of it that was left half-done. */
  readonly mode: string;
  readonly context: PlanContext;
  readonly steps: readonly PlannedStep[];
}

export interface Decision {
  readonly checks: readonly Check[];
  readonly context?: PlanContext;
  /** The goal is already met: nothing to do (exit 0), said in one line. */
  readonly done?: string;
  /** Only these of the playbook's steps, in its order (a rolling restart whose switchover is already done). */
  readonly only?: ReadonlyArray<string>;
}

/**
 * Describes each step; `phaseOf` places it against the point of no return (the step whose
 * definition says it is one). Only steps before it can be undone.
 */
export function buildPlan(
  name: string,
  mode: string,
  steps: readonly Step[],
  context: PlanContext,
  phaseOf = phasesAround(steps),
): Plan {
  return {
    playbook: name,
    mode,
    context,
    steps: steps.map((step, index): PlannedStep => {
      const definition = definitionOf(step);
      const phase = phaseOf(index);
      return {
        index,
        id: `${index + 1}-${step.kind}`,
        title: step.name ?? definition.title(step as never, context),
        step,
        phase,
        actions: definition.actions(step as never, context).flatMap((a) => a.text.split('\n')),
        undoable: phase === 'before-promotion' && definition.undo !== undefined,
      };
    }),
  };
}

/** Phases relative to the first point-of-no-return step. */
export function phasesAround(steps: readonly Step[]): (index: number) => Phase {
  const at = steps.findIndex((s) => definitionOf(s).pointOfNoReturn === true);
  return (index) => (at < 0 || index < at ? 'before-promotion' : index === at ? 'promotion' : 'after-promotion');
}
