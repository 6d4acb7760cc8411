/**
 * exec — runs a local command (a hook: notify a channel, drain a load balancer, stop a VM), with
 * {primary}, {target}, {target_host}, {target_port}, {primary_host}, {primary_port} and {run_id}
 * substituted in each word. A non-zero exit fails the step. Undo: none.
 */
import { z } from 'zod';
import { StepFailedError } from '../errors.js';
import { duration, stepParams } from '../playbook/fields.js';
import { describeFailure, run } from '../shell/exec.js';
import type { PlanContext, StepDefinition } from './types.js';

/** What an exec step may substitute in its words; a typo must fail validation, not run literally. */
const EXEC_PLACEHOLDERS = [
  'primary',
  'target',
  'primary_host',
  'primary_port',
  'target_host',
  'target_port',
  'run_id',
] as const;
const knownPlaceholders = (word: string): boolean =>
  [...word.matchAll(/\{([^{}]*)\}/g)].every((m) => (EXEC_PLACEHOLDERS as readonly string[]).includes(m[1]!));

const schema = stepParams('exec', {
  command: z
    .array(
      z
        .string()
        .min(1)
        .refine(knownPlaceholders, {
          error: (issue) =>
            `unknown placeholder in ${JSON.stringify(issue.input)}; expected ${EXEC_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
        }),
    )
    .min(1, { error: 'expected a command as a list of words' }),
  timeout: duration('30s'),
});

export function expandCommand(words: readonly string[], plan: PlanContext, runId = '<run id>'): string[] {
  const values: Record<(typeof EXEC_PLACEHOLDERS)[number], string> = {
    primary: plan.primary.name,
    target: plan.target.name,
    primary_host: plan.primary.conn.host,
    primary_port: String(plan.primary.conn.port),
    target_host: plan.target.conn.host,
    target_port: String(plan.target.conn.port),
    run_id: runId,
  };
  return words.map((word) =>
    word.replace(/\{([a-z_]+)\}/g, (match, key: string) => (values as Record<string, string>)[key] ?? match),
  );
}

export const execStep: StepDefinition<typeof schema> = {
  schema,
  title: (s) => s.name ?? `run ${s.command[0]}`,
  actions: (step, plan) => [
    {
      text: `[local] shell: ${expandCommand(step.command, plan).join(' ')}`,
      run: async (ctx) => {
        const result = await run(expandCommand(step.command, ctx, ctx.runId), {
          timeoutMs: step.timeout,
          signal: ctx.signal,
        });
        if (!result.ok) throw new StepFailedError(describeFailure(step.command[0]!, result));
        return `${step.command[0]} exited 0 in ${Math.round(result.durationMs)} ms`;
      },
    },
  ],
};
