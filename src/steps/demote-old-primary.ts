/**
 * demote-old-primary — the old primary rejoins as a replica of the new one, so the cluster keeps
 * its replicas and the next switchover can go back. When its fence mode lets it rejoin (a clean
 * stop, and the target replayed the shutdown checkpoint), no rewind is needed: standby.signal,
 * start, point it at the new primary (upstream.ts), drop its own old slots, wait until it
 * streams. Otherwise it stays fenced and the report says how to rejoin it.
 * Precondition: promoted. Output: whether it was started, and its role. Undo: none.
 */
import {
  ensureExited,
  markStandby,
  standbySignalCommand,
  startCommand,
  startServer,
} from '../postgres/server-control.js';
import { DROP_OWN_SLOTS_SQL, IN_RECOVERY_SQL, quoteLiteral } from '../postgres/sql.js';
import { duration, stepParams } from '../playbook/fields.js';
import { FENCE_MODES } from './fence-modes.js';
import { followActions, memberSlots, rejoinUpstream, waitStreaming, waitStreamingText } from './upstream.js';
import {
  onNewBinaries,
  shellText,
  sqlText,
  type Action,
  type OutputOf,
  type PlanContext,
  type StepContext,
  type StepDefinition,
} from './types.js';
import { hookWords } from '../inventory/model.js';
import { hookText, rebuildNode } from './platform-hook.js';
import { z } from 'zod';

const schema = stepParams('demote-old-primary', {
  timeout: duration('60s'),
  /** A managed estate: run the old primary's `rebuild` hook (its platform re-creates it as a replica of the new one). */
  rebuild: z.boolean({ error: 'expected true or false' }).default(false),
});
type Out = OutputOf<typeof schema>;

export const demoteOldPrimaryStep: StepDefinition<typeof schema> = {
  schema,
  title: (_s, plan) =>
    FENCE_MODES[plan.fenceMethod].rejoins
      ? `restart ${plan.primary.name} as a replica of ${plan.target.name}`
      : plan.fenceMethod === 'platform'
        ? `${plan.primary.name}: the platform's`
        : `leave ${plan.primary.name} fenced ${plan.fenceMethod === 'role-fence' ? '(application roles NOLOGIN)' : 'read-only (no host access)'}`,
  actions(step, plan) {
    if (!FENCE_MODES[plan.fenceMethod].rejoins) return [stayFenced(plan, step)];
    if (plan.primary.name === plan.target.name)
      return [{ text: 'none: no old primary known', run: async () => 'no old primary to demote' }];
    const { slot, conninfo } = rejoinUpstream(plan);
    return [
      {
        text: shellText(plan.primary.name, standbySignalCommand(plan.primary)),
        run: (ctx, out) => markAsStandby(ctx, out),
      },
      {
        text: shellText(plan.primary.name, startCommand(onNewBinaries(plan, plan.primary), step.timeout)),
        run: (ctx, out) => start(ctx, out, step.timeout),
      },
      ...followActions<Out>(plan, plan.primary, conninfo, slot),
      {
        text: sqlText(
          plan.primary.name,
          DROP_OWN_SLOTS_SQL.replace('$1', `ARRAY[${memberSlots(plan).map(quoteLiteral).join(', ')}]`),
        ),
        run: async (ctx) => {
          // A replica must not hold WAL for the cluster's members: they stream from the new primary now.
          const dropped = await (
            await ctx.connections.node(ctx.primary.name)
          )
            .query<{ slot_name: string }>(DROP_OWN_SLOTS_SQL, [memberSlots(plan)])
            .catch(
              (error: Error) =>
                void ctx.log.notes.push(`could not drop old slots on ${ctx.primary.name}: ${error.message}`),
            );
          if (dropped?.length) return `dropped its members' slots ${dropped.map((r) => r.slot_name).join(', ')}`;
        },
      },
      {
        text: waitStreamingText(plan, plan.primary),
        run: async (ctx, out) => {
          await waitStreaming(ctx, ctx.primary, step.timeout);
          out.role = `replica streaming from ${ctx.target.name}`;
          return `${ctx.primary.name} is a replica of ${ctx.target.name}`;
        },
      },
    ];
  },
};

function stayFenced(plan: PlanContext, step: { timeout: number; rebuild: boolean }): Action<Out> {
  if (plan.fenceMethod === 'role-fence' && step.rebuild && plan.primary.rebuild && plan.managed)
    return {
      text: `${hookText(plan.primary, 'rebuild', plan.primary.rebuild.command, step.timeout)}, then until it streams from ${plan.target.name}`,
      run: async (ctx, out) => {
        const said = await rebuildNode(ctx, ctx.primary, step.timeout);
        out.role = 'replica (rebuilt by its platform)';
        return said;
      },
    };
  if (plan.fenceMethod === 'role-fence') return stayRoleFenced(plan);
  if (plan.fenceMethod === 'platform')
    return {
      text: `none: the platform's switchover makes ${plan.primary.name} a replica of ${plan.target.name} (verify checks it is not writable)`,
      run: async (_ctx, out) => {
        out.role = "replica (the platform's switchover)";
        return `${plan.primary.name} left to the platform`;
      },
    };
  return {
    text: `none: ${plan.primary.name} stays read-only; the report says how to rejoin it`,
    run: async (ctx, out) => {
      out.role = 'fenced read-only (still running)';
      ctx.log.leftToDo.push(
        `${ctx.primary.name} is fenced read-only, not a replica: stop it, pg_rewind it against ${ctx.target.name} ` +
          `(pg_rewind --source-server='<${ctx.target.name} conninfo>' -D <data_dir> -R), then start it as a standby`,
      );
      return `${ctx.primary.name} stays fenced read-only`;
    },
  };
}

/** Down (the usual case): mark it a standby, after its postmaster has exited. Running as a replica already (a rerun): nothing. */
async function markAsStandby(ctx: StepContext, out: Out): Promise<void> {
  const fence = ctx.outputs['fence-writes'];
  const running = fence.stopped ? undefined : await runningRole(ctx);
  if (running === 'primary') throw new Error(`${ctx.primary.name} is running as a primary: two primaries; stop it now`);
  if (running === 'replica') {
    out.started = true;
    return;
  }
  const runner = ctx.host(ctx.primary);
  if (!runner) throw new Error(`${ctx.primary.name} is stopped and has no host_access: start it as a standby by hand`);
  if (fence.stopRequested) {
    // The old postmaster may still be waiting for a standby (a partitioned one) to confirm its
    // shutdown checkpoint, for up to wal_sender_timeout. The checkpoint is written and replayed by
    // the new primary, so after a short grace an immediate stop loses nothing.
    const how = await ensureExited(runner, ctx.primary, fence.postmasterPid, 1000);
    if (how === 'forced') {
      ctx.log.notes.push(
        `${ctx.primary.name}'s postmaster was still waiting for a standby to confirm its shutdown checkpoint; it was ended with an immediate stop (safe once the checkpoint is written)`,
      );
    }
  }
  await markStandby(runner, ctx.primary);
}

async function start(ctx: StepContext, out: Out, timeoutMs: number): Promise<void> {
  if (out.started) return;
  // A rolling restart brings it back on the new binaries.
  await startServer(ctx.host(ctx.primary)!, onNewBinaries(ctx, ctx.primary), timeoutMs);
  out.started = true;
}

/** 'replica' or 'primary' when the old primary answers, undefined when it is down. */
async function runningRole(ctx: StepContext): Promise<'primary' | 'replica' | undefined> {
  try {
    const row = await (await ctx.connections.node(ctx.primary.name)).one<{ in_recovery: boolean }>(IN_RECOVERY_SQL);
    return row.in_recovery ? 'replica' : 'primary';
  } catch {
    return undefined;
  }
}

/**
 * After a role fence the old primary is still a primary (a managed platform's instance cannot
 * follow the new one): its application roles stay NOLOGIN, and the report names its rebuild.
 */
function stayRoleFenced(plan: PlanContext): Action<Out> {
  const rebuild = plan.primary.rebuild ? hookWords(plan.primary, plan.primary.rebuild.command).join(' ') : undefined;
  return {
    text: `none: ${plan.primary.name} stays a primary with its application roles NOLOGIN; ${rebuild ? `its rebuild: ${rebuild}` : 'no rebuild command in the inventory'}`,
    run: async (ctx, out) => {
      out.role = 'primary, application roles NOLOGIN (fenced)';
      ctx.log.leftToDo.push(
        `${ctx.primary.name} cannot follow ${ctx.target.name} (a managed platform): it stays a primary whose application roles cannot log in; rebuild it as a replica of ${ctx.target.name}${rebuild ? ` (\`${rebuild}\`)` : ' (no rebuild command in the inventory)'}, or delete it`,
      );
      return `${ctx.primary.name} stays fenced: its application roles cannot log in`;
    },
  };
}
