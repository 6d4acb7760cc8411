/**
 * exec — runs a local command (a hook: notify a channel, drain a load balancer, stop a VM), with
 * {primary}, {target}, {target_host}, {target_port}, {primary_host}, {primary_port} and {run_id}
 * substituted in each word. A non-zero exit fails the step. Undo: none.
 */
import { StepFailedError } from '../errors.js';
import { describeFailure, run } from '../shell/exec.js';
import type { EXEC_PLACEHOLDERS } from '../playbook/schema.js';
import type { PlanContext, StepDefinition } from './types.js';

export function expandCommand(words: readonly string[], plan: PlanContext, runId = '<run id>'): string[] {
  const values: Record<(typeof EXEC_PLACEHOLDERS)[number], string> = {
    primary: plan.primary.name, target: plan.target.name,
    primary_host: plan.primary.conn.host, primary_port: String(plan.primary.conn.port),
    target_host: plan.target.conn.host, target_port: String(plan.target.conn.port), run_id: runId,
  };
  return words.map((word) => word.replace(/\{([a-z_]+)\}/g, (match, key: string) => (values as Record<string, string>)[key] ?? match));
}

export const execStep: StepDefinition<'exec'> = {
  kind: 'exec',
  title: (s) => s.name ?? `run ${s.command[0]}`,
  describe: (s, plan) => [`[local] shell: ${expandCommand(s.command, plan).join(' ')}`],
  async run(step, ctx) {
    const result = await run(expandCommand(step.command, ctx, ctx.runId), { timeoutMs: step.timeout, signal: ctx.signal });
    if (!result.ok) throw new StepFailedError(describeFailure(step.command[0]!, result));
    return `${step.command[0]} exited 0 in ${Math.round(result.durationMs)} ms`;
  },
};
