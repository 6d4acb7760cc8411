/**
 * repoint-pooler — points every route of every router at the new primary, in parallel, within
 * its timeout (PgBouncer: rewrite [databases] atomically, RELOAD, check SHOW DATABASES). A failed
 * server login would make PgBouncer refuse the pool for server_login_retry, so the new primary's
 * logins are proven before the pause (the run's own fresh sessions) and its liveness just now
 * (promote polled it on a held session). Precondition: promoted. Output: the repointed routers.
 * Undo: none (past the point of no return).
 */
import { TimeoutError } from '../errors.js';
import { duration, stepParams } from '../playbook/fields.js';
import { routerKind } from '../routers/registry.js';
import { within } from '../util/time.js';
import { routeTarget } from './routing.js';
import { perform, type StepDefinition } from './types.js';

const schema = stepParams('repoint-pooler', { timeout: duration('10s') });

export const repointPoolerStep: StepDefinition<typeof schema> = {
  schema,
  pauseBudget: (s) => s.timeout,
  title: (_s, plan) => `repoint pooler to ${plan.target.name}`,
  actions: (step, plan) =>
    plan.inventory.poolers.map((spec) => ({
      text: routerKind(spec.kind)
        .describe.repoint(spec, routeTarget(plan.primary, plan), routeTarget(plan.target, plan), step.timeout)
        .join('\n'),
      run: async (ctx, out) => {
        const log = { leftToDo: (line: string) => void ctx.log.leftToDo.push(line) };
        await ctx.connections
          .router(spec.name)
          .repoint(routeTarget(ctx.primary, ctx), routeTarget(ctx.target, ctx), log);
        out.repointed.add(spec.name);
      },
    })),
  async run(step, ctx, out, actions) {
    // All routers in parallel, bounded: one that hangs on RELOAD must not hold the others' clients past the budget.
    const all = Promise.all(actions.map((a) => perform(a, ctx, out)));
    if ((await within<unknown>(all, step.timeout, 'timeout')) === 'timeout') {
      throw new TimeoutError(`repointing the poolers did not finish within ${step.timeout} ms`);
    }
    const { host, port } = ctx.target.conn;
    return `${ctx.inventory.poolers.map((p) => p.name).join(', ')} -> ${ctx.target.name} (${host}:${port})`;
  },
};
