/**
 * fence-old-primary — a failover's fence. Every router stops sending clients to the old primary
 * (dead or hung): clients queue, and server connections stuck on a hung node are cut (PgBouncer:
 * PAUSE, then KILL when PAUSE cannot finish). Then the node itself, as its fence mode says: its
 * fence_command (STONITH), or nothing (said in the plan and the report). Last, the position the
 * candidate must replay: all it received, since nothing more can come.
 * Precondition: confirm-failure passed. Output: fence-writes' record (held routers, final position).
 * Undo: release the routers (no promotion happened: the old primary is still the only primary).
 */
import { StepFailedError } from '../errors.js';
import { formatLsn, maxLsn, parseLsn } from '../model/lsn.js';
import { duration, stepParams } from '../playbook/fields.js';
import { routerKind } from '../routers/registry.js';
import { formatMs } from '../util/time.js';
import { FENCE_MODES } from './fence-modes.js';
import type { FenceOutput } from './outputs.js';
import { undoFence } from './fence-undo.js';
import { routeTarget } from './routing.js';
import { sqlText, type Action, type PlanContext, type StepContext, type StepDefinition, perform } from './types.js';

const schema = stepParams('fence-old-primary', {
  /** PAUSE gets this long; then the old primary's server connections are cut (KILL). */
  pause_timeout: duration('500ms'),
  /** The fence_command's time limit. */
  fence_timeout: duration('10s'),
});

/** A hung primary's server connections never finish a transaction: cut them at once rather than wait out the PAUSE. */
const pauseFor = (step: { pause_timeout: number }, plan: PlanContext): number =>
  plan.incident?.silence === 'timeout' ? 0 : step.pause_timeout;

const RESUME_REPLAY_SQL = 'SELECT pg_wal_replay_resume()';
const RECEIVED_SQL = 'SELECT pg_last_wal_receive_lsn()::text AS received, pg_last_wal_replay_lsn()::text AS replayed';

export const fenceOldPrimaryStep: StepDefinition<typeof schema, FenceOutput> = {
  schema,
  outputOf: 'fence-writes',
  pauseBudget: (s) => s.pause_timeout + s.fence_timeout,
  title: (_s, plan) =>
    `fence ${plan.primary.name} (poolers, then ${FENCE_MODES[plan.fenceMethod].title(plan.primary.name)})`,
  actions: (step, plan) => [
    ...plan.inventory.poolers.map((spec): Action<FenceOutput> => ({
      group: 'routers',
      text: routerKind(spec.kind)
        .describe.fence(spec, routeTarget(plan.primary, plan), pauseFor(step, plan))
        .join('\n'),
      run: async (ctx, out) => {
        out.held.add(spec.name);
        return ctx.connections.router(spec.name).fence(routeTarget(ctx.primary, ctx), pauseFor(step, ctx));
      },
    })),
    ...FENCE_MODES[plan.fenceMethod].actions(plan, step.fence_timeout),
    ...(plan.targetObs?.replayPaused
      ? [
          {
            text: `${sqlText(plan.target.name, RESUME_REPLAY_SQL)}  (its replay was paused; it was named as the target)`,
            run: async (ctx: StepContext) =>
              void (await (await ctx.connections.node(ctx.target.name)).query(RESUME_REPLAY_SQL)),
          },
        ]
      : []),
    {
      text: `${sqlText(plan.target.name, RECEIVED_SQL)}  (final position: all it received from ${plan.primary.name})`,
      run: async (ctx, out) => {
        const row = await (
          await ctx.connections.node(ctx.target.name)
        ).one<{ received: string | null; replayed: string | null }>(RECEIVED_SQL);
        const final = maxLsn(parseLsn(row.received), parseLsn(row.replayed), ctx.incident?.loss.candidateLsn);
        if (final === undefined)
          throw new StepFailedError(`${ctx.target.name} reports no received or replayed position`);
        out.finalLsn = final;
        out.finalLsnSource = `all ${ctx.target.name} received from ${ctx.primary.name} (failover)`;
        out.oldTimeline = ctx.targetObs?.timeline;
        return `${ctx.target.name} received up to ${formatLsn(final)}`;
      },
    },
  ],
  async run(_step, ctx, out, actions) {
    out.startedAt = performance.now();
    const routers = actions.filter((a) => a.group === 'routers');
    const settled = await Promise.allSettled(routers.map((a) => perform(a, ctx, out)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const said = settled.map((r) => (r as PromiseFulfilledResult<string | void>).value).filter(Boolean) as string[];
    for (const action of actions.filter((a) => a.group !== 'routers')) {
      const line = await action.run?.(ctx, out);
      if (line) said.push(line);
    }
    return said.join('; ');
  },
  async undo(_step, ctx, out) {
    const released = await undoFence(ctx, out);
    if (ctx.fenceMethod === 'fence-command') {
      ctx.log.leftToDo.push(
        `${ctx.primary.name} may have been stopped by its fence_command: start it again, or run the failover again`,
      );
    }
    return `${released} (no promotion happened: ${ctx.primary.name} is still the only primary; clients were held ${formatMs((out.releasedAt ?? 0) - (out.startedAt ?? out.releasedAt ?? 0))})`;
  },
};
