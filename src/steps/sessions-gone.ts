/**
 * After a fence signalled sessions to end (all at once, not awaited one by one): an action that
 * polls their count on the old primary until none is left. A terminated session may still be
 * committing, so the final position is read only after it.
 */
import type { FenceOutput } from './outputs.js';
import { pollNode } from './poll.js';
import { sqlText, type Action, type PlanContext, type StepContext } from './types.js';

export function untilSessionsGone(
  plan: PlanContext,
  count: { readonly sql: string; readonly shown: string; readonly params: (ctx: StepContext) => unknown[] },
  what: string,
  timeoutMs: number,
): Action<FenceOutput> {
  return {
    text: `${sqlText(plan.primary.name, count.sql.replace('$1', count.shown))}  (until 0, up to ${timeoutMs} ms)`,
    run: async (ctx) => {
      await pollNode(ctx, {
        node: ctx.primary.name,
        timeoutMs,
        intervalMs: 2,
        signal: ctx.signal,
        what: `${what} on ${ctx.primary.name} ending`,
        probe: async (s) => (await s.one<{ n: number }>(count.sql, count.params(ctx))).n,
        done: (n) => n === 0,
        describe: (n) => `${n} session(s)`,
      });
    },
  };
}
