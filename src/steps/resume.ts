/**
 * resume — every router lets its held clients through; they continue on the new primary. Only
 * routers repointed to it are released: one still pointing at the old primary stays held and the
 * report says so. Then, with clients already back: the new timeline, and the upstream settings a
 * primary no longer needs. Precondition: promoted and repointed. Output: released routers, when,
 * the new timeline. Undo: none.
 */
import { StepFailedError } from '../errors.js';
import { stepParams } from '../playbook/fields.js';
import { RELOAD_SQL, TIMELINE_SQL } from '../postgres/sql.js';
import { routerKind } from '../routers/registry.js';
import { formatMs } from '../util/time.js';
import { oldTimelineOf } from './outputs.js';
import { FENCE_MODES } from './fence-modes.js';
import { fencedRolesOf, restoreRoles, restoreRolesText } from './role-fence.js';
import { releaseRouters } from './routing.js';
import { sqlText, type Action, type OutputOf, type StepContext, type StepDefinition, perform } from './types.js';

const schema = stepParams('resume', {});
type Out = OutputOf<typeof schema>;
// primary_conninfo stays (a primary ignores it): when this node's old primary rejoins and no
// replica is left to copy from (two nodes), it is the record of the replication user and passfile.
// The slot named the old upstream's, which follow and rejoin replace.
const CLEANUP_SQL = ['ALTER SYSTEM RESET primary_slot_name', RELOAD_SQL];

export const resumeStep: StepDefinition<typeof schema> = {
  schema,
  title: () => 'resume clients',
  actions: (_s, plan) => [
    // A role fence replicated NOLOGIN to the new primary too: given back there before any client
    // comes (a managed failover's old primary may have answered its role fence: the same).
    ...(plan.fenceMethod === 'role-fence' || (plan.managed && FENCE_MODES[plan.fenceMethod].failover)
      ? [
          {
            text: `${plan.fenceMethod === 'role-fence' ? restoreRolesText(plan.target.name, fencedRolesOf(plan)) : `[${plan.target.name}] the roles recorded by the old primary's role fence, if it answered`}  (as recorded before the fence)`,
            run: async (ctx: StepContext) => {
              const fence = ctx.outputs['fence-writes'].roleFence;
              return fence ? restoreRoles(ctx, ctx.target.name, fence.roles) : undefined;
            },
          },
        ]
      : []),
    ...plan.inventory.poolers.map((spec): Action<Out> => ({
      text: routerKind(spec.kind).describe.release(spec).join('\n'),
      run: async (ctx, out) =>
        releasable(ctx).has(spec.name)
          ? (await releaseRouters(ctx, new Set([spec.name]), (name) => out.released.add(name)))[0]
          : undefined,
    })),
    {
      text: `${sqlText(plan.target.name, TIMELINE_SQL)}  (clients are back by now)`,
      run: async (ctx, out) => {
        out.newTimeline = (await (await ctx.connections.node(ctx.target.name)).one<{ tli: number }>(TIMELINE_SQL)).tli;
        return `timeline ${oldTimelineOf(ctx.outputs) ?? '?'} -> ${out.newTimeline}`;
      },
    },
    // A platform keeps its own recovery settings (and the tool may not ALTER SYSTEM there).
    ...(plan.managed
      ? []
      : [
          {
            text: sqlText(plan.target.name, CLEANUP_SQL.join('; ')),
            run: async (ctx: StepContext) => {
              const session = await ctx.connections.node(ctx.target.name);
              for (const sql of CLEANUP_SQL) await session.query(sql);
            },
          },
        ]),
  ],
  async run(_step, ctx, out, actions) {
    // The roles given back first (a role fence); then the routers, one each, in parallel; the rest in order.
    const first = ctx.fenceMethod === 'role-fence' ? 1 : 0;
    const given = first ? await actions[0]!.run?.(ctx, out) : undefined;
    const routers = first + ctx.inventory.poolers.length;
    const released = (await Promise.all(actions.slice(first, routers).map((a) => perform(a, ctx, out)))).filter(
      (s): s is string => Boolean(s),
    );
    if (given) released.unshift(given);
    out.resumedAt = performance.now();
    const heldAt = ctx.outputs['fence-writes'].startedAt;
    if (heldAt !== undefined) ctx.record('clients-released', { pauseMs: Math.round(out.resumedAt - heldAt) });
    const after: string[] = [];
    for (const action of actions.slice(routers)) {
      const said = await action.run?.(ctx, out);
      if (said) after.push(said);
    }
    const held = ctx.outputs['fence-writes'].held;
    const stuck = ctx.inventory.poolers.filter((p) => held.has(p.name) && !out.released.has(p.name));
    if (stuck.length) {
      for (const p of stuck) {
        ctx.log.leftToDo.push(
          `${p.name} is still PAUSED and points at ${ctx.primary.name}: it could not be repointed to ${ctx.target.name}; fix that (see the error above), then run the same command again to finish, or repoint it and RESUME ${p.routes.join(', ')} by hand`,
        );
      }
      throw new StepFailedError(
        `kept ${stuck.map((p) => p.name).join(', ')} paused: not repointed to ${ctx.target.name}${released.length ? `; resumed ${released.join('; ')}` : ''}`,
      );
    }
    const startedAt = ctx.outputs['fence-writes'].startedAt;
    const pause = startedAt === undefined ? undefined : out.resumedAt - startedAt;
    return [released.join('; '), pause === undefined ? '' : `writes were paused for ${formatMs(pause)}`, ...after]
      .filter(Boolean)
      .join('; ');
  },
};

/** After promotion, only routers repointed to the new primary; a router on the old one must not let clients through. */
function releasable(ctx: StepContext): Set<string> {
  const held = ctx.outputs['fence-writes'].held;
  const repointed = ctx.outputs['repoint-pooler'].repointed;
  return new Set([...held].filter((name) => !ctx.noReturn.confirmed || repointed.has(name)));
}
