/**
 * checkpoint — CHECKPOINT on the primary so its shutdown checkpoint (inside the write pause) is
 * short; also notes the postmaster's pid for a fast local stop. Clients are not affected.
 * Output: the postmaster's pid. Undo: nothing to undo.
 */
import { duration, stepParams } from '../playbook/fields.js';
import { localPostmasterPid } from '../postgres/server-control.js';
import { sqlText, type StepDefinition } from './types.js';

const schema = stepParams('checkpoint', { timeout: duration('60s') });

export const checkpointStep: StepDefinition<typeof schema> = {
  schema,
  title: (_s, plan) => `checkpoint ${plan.primary.name}`,
  actions: (step, plan) =>
    // Only a clean stop writes a shutdown checkpoint inside the pause; a platform may not allow CHECKPOINT.
    plan.managed && plan.fenceMethod !== 'clean-stop'
      ? [
          {
            text: `none: ${plan.primary.name} is not stopped (a managed platform's role fence)`,
            run: async () => undefined,
          },
        ]
      : [
          {
            text: sqlText(plan.primary.name, 'CHECKPOINT'),
            run: async (ctx, out) => {
              await (await ctx.connections.node(ctx.primary.name)).query('CHECKPOINT', [], step.timeout);
              const runner = ctx.host(ctx.primary);
              out.postmasterPid = runner ? localPostmasterPid(runner, ctx.primary) : undefined;
              return `checkpoint done on ${ctx.primary.name}`;
            },
          },
        ],
};
