/**
 * repoint-pooler — points every route of every router at the new primary, in parallel, within
 * its timeout (PgBouncer: rewrite [databases] atomically, RELOAD, check SHOW DATABASES). A failed
 * server login would make PgBouncer refuse the pool for server_login_retry, so the new primary's
 * logins are proven before the pause (the run's own fresh sessions) and its liveness just now
 * (promote polled it on a held session). Precondition: promoted. Undo: none (past the point of
 * no return).
 */
import { TimeoutError } from '../errors.js';
import type { NodeSpec } from '../inventory/model.js';
import { routerKind } from '../routers/registry.js';
import type { RouteTarget } from '../routers/types.js';
import { within } from '../util/time.js';
import type { StepDefinition } from './types.js';

export const repointPoolerStep: StepDefinition<'repoint-pooler'> = {
  kind: 'repoint-pooler',
  title: (_s, plan) => `repoint pooler to ${plan.target.name}`,
  describe: (step, plan) => plan.inventory.poolers.flatMap((p) => routerKind(p.kind).describe.repoint(p, routeTarget(plan.target), step.timeout)),
  async run(step, ctx) {
    const to = routeTarget(ctx.target);
    const log = { leftToDo: (line: string) => ctx.facts.leftToDo.push(line) };
    // Bounded: a router that hangs on RELOAD must not hold the others' clients past the budget.
    await within<unknown>(Promise.all(ctx.inventory.poolers.map(async (spec) => {
      await ctx.connections.router(spec.name).repoint(to, log);
      ctx.facts.repointed.add(spec.name);
    })), step.timeout, 'timeout').then((result) => {
      if (result === 'timeout') throw new TimeoutError(`repointing the poolers did not finish within ${step.timeout} ms`);
    });
    return `${ctx.inventory.poolers.map((p) => p.name).join(', ')} -> ${ctx.target.name} (${to.host}:${to.port})`;
  },
};

export const routeTarget = (node: NodeSpec): RouteTarget => ({ name: node.name, host: node.conn.host, port: node.conn.port });
