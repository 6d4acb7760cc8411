/**
 * checkpoint — CHECKPOINT on the primary so its shutdown checkpoint (inside the write pause) is
 * short; also notes the postmaster's pid for a fast local stop. Clients are not affected.
 * Undo: nothing to undo.
 */
import { localPostmasterPid } from '../postgres/server-control.js';
import { sqlAction, type StepDefinition } from './types.js';

export const checkpointStep: StepDefinition<'checkpoint'> = {
  kind: 'checkpoint',
  title: (_s, plan) => `checkpoint ${plan.primary.name}`,
  describe: (_s, plan) => [sqlAction(plan.primary.name, 'CHECKPOINT')],
  async run(step, ctx) {
    const session = await ctx.connections.node(ctx.primary.name);
    await session.query('CHECKPOINT', [], step.timeout);
    const runner = ctx.host(ctx.primary);
    ctx.facts.postmasterPid = runner ? localPostmasterPid(runner, ctx.primary) : undefined;
    return `checkpoint done on ${ctx.primary.name}`;
  },
};
