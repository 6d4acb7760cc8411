/**
 * Undoing a fence (fence-writes' undo, and the unfence step of a half-done run): an immediate
 * stop if the old postmaster is still exiting, start it again / reset read-only / give the
 * application roles back as recorded (a role fence), prove it accepts
 * writes on a new connection, release the routers (clients stay held if it does not), and only
 * then wait for the replicas to reattach.
 */
import { StepFailedError } from '../errors.js';
import { messageOf } from '../postgres/errors.js';
import { ensureExited, startServer } from '../postgres/server-control.js';
import { ATTACHED_SQL, READ_WRITE_SQL } from '../postgres/sql.js';
import { isWritable } from '../model/writability.js';
import { FENCE_MODES } from './fence-modes.js';
import type { FenceOutput } from './outputs.js';
import { pollNode } from './poll.js';
import { restoreRoles } from './role-fence.js';
import { releaseRouters } from './routing.js';
import type { StepContext } from './types.js';

export async function undoFence(ctx: StepContext, out: FenceOutput): Promise<string> {
  const done: string[] = [];
  const runner = ctx.host(ctx.primary);
  const restart = out.stopRequested && runner !== undefined;
  if (restart) {
    const how = await ensureExited(runner, ctx.primary, out.postmasterPid, 0).catch((error: Error) => {
      ctx.log.leftToDo.push(
        `${ctx.primary.name} cannot be restarted: ${error.message}. Clients stay paused rather than reach it. If it comes back, run the same command again (it undoes this run); if it stays hung, fail over to a replica`,
      );
      throw error;
    });
    await startServer(runner, ctx.primary, 60_000);
    out.stopRequested = false;
    out.stopped = false;
    done.push(
      `started ${ctx.primary.name} again as primary${how === 'forced' ? ' (its shutdown was cut short with an immediate stop)' : ''}`,
    );
  }
  if (out.readOnly) {
    const session = await ctx.connections.node(ctx.primary.name);
    for (const sql of READ_WRITE_SQL) await session.query(sql);
    out.readOnly = false;
    done.push(`${ctx.primary.name} writable again`);
  }
  if (out.roleFence) {
    // Exactly what was recorded before the fence: LOGIN or not, and each CONNECTION LIMIT.
    done.push(await restoreRoles(ctx, out.roleFence.node, out.roleFence.roles));
    out.roleFence = undefined;
  }
  // Clients are released only onto a server proven to accept writes; else they stay held. A
  // failover's old primary is down or hung: nobody was promoted, so clients go back to it.
  if (!FENCE_MODES[ctx.fenceMethod].failover) await proveWritable(ctx, ctx.primary.name);
  done.push(...(await releaseRouters(ctx, new Set(out.held), (name) => out.held.delete(name))));
  out.releasedAt = performance.now();
  // Replicas reattach after clients are back, not while they wait.
  if (restart) done.push(await waitReattached(ctx));
  return done.join('; ') || 'nothing to undo';
}

/** Throws unless `node` accepts a new connection and answers it as a writable primary. */
async function proveWritable(ctx: StepContext, node: string): Promise<void> {
  const seen = await ctx.connections
    .askWritable(node, {
      attempts: 2,
      connectTimeoutMs: 3000,
      queryTimeoutMs: 5000,
    })
    .catch((error: unknown) => {
      throw new StepFailedError(`not resuming clients: ${node} does not answer a new connection (${messageOf(error)})`);
    });
  if (!isWritable(seen)) {
    throw new StepFailedError(
      `not resuming clients: ${node} does not accept writes (in recovery: ${seen.inRecovery}, read-only: ${seen.readOnly})`,
    );
  }
}

/**
 * After a restart, replicas reconnect within wal_retrieve_retry_interval (5 s by default); wait
 * for the ones that answer, so the cluster is left as it was found, not half-attached.
 */
async function waitReattached(ctx: StepContext): Promise<string> {
  const candidates = [ctx.target, ...ctx.siblings.filter((s) => ctx.waitFor.includes(s.name))].filter(
    (n) => n.name !== ctx.primary.name,
  );
  const expected = (await Promise.all(candidates.map((n) => willReattach(ctx, n.name)))).filter(Boolean).length;
  try {
    const attached = await pollNode(ctx, {
      node: ctx.primary.name,
      timeoutMs: 15_000,
      intervalMs: 100,
      what: 'replicas reattaching',
      probe: async (session) => (await session.one<{ n: number }>(ATTACHED_SQL)).n,
      done: (count) => count >= expected,
    });
    return `${attached} replica(s) streaming again`;
  } catch {
    ctx.log.notes.push(`not every replica reattached to ${ctx.primary.name} within 15 s; check pg_stat_replication`);
    return 'replicas still reattaching';
  }
}

/** A node that is gone, or whose replay is paused (its startup process restarts streaming), will not reattach. */
async function willReattach(ctx: StepContext, name: string): Promise<boolean> {
  const session = ctx.connections.held(name);
  if (!session) return false;
  const row = await session
    .one<{ running: boolean }>(`SELECT pg_get_wal_replay_pause_state() = 'not paused' AS running`, [], 2000)
    .catch(() => undefined);
  return row?.running ?? false;
}
