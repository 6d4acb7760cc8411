/** Holding and releasing clients on every router of the inventory, in parallel (shared by steps). */
import { routerKind } from '../routers/registry.js';
import { routeTargetOf, type RouteTarget } from '../routers/types.js';
import type { NodeSpec } from '../inventory/model.js';
import { perform, type Action, type PlanContext, type StepContext } from './types.js';

export const routeTarget = (node: NodeSpec, plan: Pick<PlanContext, 'state'>): RouteTarget =>
  routeTargetOf(node, plan.state.addresses, plan.state.nodes);

/** One action per router: hold its clients (a router is marked held before it is asked, so undo covers a half-done hold). */
export function holdActions(plan: PlanContext, timeoutMs: number): Action<{ held: Set<string> }>[] {
  return plan.inventory.poolers.map((spec) => ({
    text: routerKind(spec.kind).describe.hold(spec, routeTarget(plan.primary, plan), timeoutMs).join('\n'),
    run: async (ctx, out) => {
      out.held.add(spec.name);
      await ctx.connections.router(spec.name).hold(routeTarget(ctx.primary, ctx), timeoutMs);
    },
  }));
}

/** Runs the hold actions in parallel: every router is asked even when one fails; the first failure is thrown. */
export async function holdAll<O>(actions: readonly Action<O>[], ctx: StepContext, out: O): Promise<void> {
  const results = await Promise.allSettled(actions.map((a) => perform(a, ctx, out)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Releases the named routers in parallel; `released` is called for each one done. */
export async function releaseRouters(
  ctx: StepContext,
  names: ReadonlySet<string>,
  released: (name: string) => void,
): Promise<string[]> {
  const specs = ctx.inventory.poolers.filter((spec) => names.has(spec.name));
  return Promise.all(
    specs.map(async (spec) => {
      const summary = await ctx.connections
        .router(spec.name)
        .release([routeTarget(ctx.primary, ctx), routeTarget(ctx.target, ctx)]);
      released(spec.name);
      return summary;
    }),
  );
}
