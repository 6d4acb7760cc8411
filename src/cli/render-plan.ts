/** Human rendering of preflight checks and of a plan (the dry run's output). */
import type { Check } from '../decide/checks.js';
import { describeLoss, lossJson } from '../model/incident.js';
import type { Plan } from '../playbook/plan.js';

const MARK = { pass: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

export function renderChecks(checks: readonly Check[]): string {
  return ['Preflight checks:', ...checks.map((c) => `  ${MARK[c.verdict]}  ${c.id.padEnd(27)} ${c.message}`)].join(
    '\n',
  );
}

export function renderPlan(plan: Plan): string {
  const { primary, target, fenceMethod } = plan.context;
  const fences = plan.steps.some((s) => s.step.kind === 'fence-writes' || s.step.kind === 'fence-old-primary');
  const lines = [
    `Plan (${plan.playbook}): ${primary.name} -> ${target.name}${fences ? `, fence by ${fenceMethod}` : ''}`,
  ];
  if (plan.context.incident) lines.push(`  ${describeLoss(plan.context.incident.loss)}`);
  for (const step of plan.steps) {
    const tag = step.phase === 'promotion' ? '  <- point of no return' : step.undoable ? '  (undone on failure)' : '';
    lines.push(`  ${step.id}: ${step.title}${tag}`);
    for (const action of step.actions) lines.push(`      ${action}`);
  }
  return lines.join('\n');
}

export function planJson(plan: Plan): unknown {
  return {
    playbook: plan.playbook,
    primary: plan.context.primary.name,
    target: plan.context.target.name,
    fenceMethod: plan.context.fenceMethod,
    ...(plan.context.incident ? { possibleLoss: lossJson(plan.context.incident.loss) } : {}),
    steps: plan.steps.map((s) => ({
      id: s.id,
      kind: s.step.kind,
      title: s.title,
      phase: s.phase,
      undoable: s.undoable,
      actions: s.actions,
    })),
  };
}
