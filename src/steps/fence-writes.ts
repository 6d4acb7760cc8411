/**
 * fence-writes — every router holds its clients (they queue instead of failing), then the old
 * primary stops accepting commits in the way its fence mode says (fence-modes.ts: a clean stop,
 * fenced once pg_control says "shut down"; or read-only plus terminating sessions).
 * Precondition: preflight passed. Output: the held routers, the final WAL position.
 * Undo: fence-undo.ts (restart / reset read-only, prove writable, release, replicas reattach).
 */
import { z } from 'zod';
import { duration, stepParams } from '../playbook/fields.js';
import { FENCE_MODES, PLANNED_FENCES } from './fence-modes.js';
import { undoFence } from './fence-undo.js';
import { holdActions, holdAll } from './routing.js';
import type { StepContext, StepDefinition } from './types.js';

/** `auto`, or one mode of the table (auto takes the first whose needs are met). */
const METHODS = ['auto', ...PLANNED_FENCES] as const;

const schema = stepParams('fence-writes', {
  method: z.enum(METHODS, { error: `expected ${METHODS.map((m) => `"${m}"`).join(', ')}` }).default('auto'),
  pause_timeout: duration('5s'),
  stop_timeout: duration('30s'),
});

export const fenceWritesStep: StepDefinition<typeof schema> = {
  schema,
  pauseBudget: (s) => s.pause_timeout + s.stop_timeout,
  title: (_s, plan) => `fence writes (pause pooler, ${FENCE_MODES[plan.fenceMethod].title(plan.primary.name)})`,
  actions: (step, plan) => [
    ...holdActions(plan, step.pause_timeout),
    ...FENCE_MODES[plan.fenceMethod].actions(plan, step.stop_timeout),
  ],
  async run(_step, ctx, out, actions) {
    out.startedAt = performance.now();
    // The first actions are the holds, one per router, asked in parallel; then the fence, in order.
    const holds = ctx.inventory.poolers.length;
    try {
      await holdAll(actions.slice(0, holds), ctx, out);
      // Where the pause goes (the benchmark splits it): holding the clients, then the fence itself.
      ctx.record('clients-held', { ms: Math.round(performance.now() - out.startedAt) });
      const said: string[] = [];
      for (const action of actions.slice(holds)) {
        const line = await action.run?.(ctx, out);
        if (line) said.push(line);
      }
      return said.join('; ');
    } catch (error) {
      if (!out.stopped && !(await answers(ctx))) {
        ctx.log.notes.push(
          `${ctx.primary.name} does not answer a new connection (hung?): a planned switchover cannot verify its final WAL position; if it stays that way, use the failover procedure`,
        );
      }
      throw error;
    }
  },
  undo: (_step, ctx, out) => undoFence(ctx, out),
};

/** Whether the old primary accepts a new connection and answers within a second. */
async function answers(ctx: StepContext): Promise<boolean> {
  return ctx.connections
    .askWritable(ctx.primary.name, { attempts: 1, connectTimeoutMs: 1000, queryTimeoutMs: 1000 })
    .then(
      () => true,
      () => false,
    );
}
