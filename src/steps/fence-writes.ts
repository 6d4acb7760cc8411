/**
 * fence-writes — PAUSE every pooler (clients queue instead of failing), then stop the old primary
 * accepting commits: a clean fast stop when we can act on its host (fenced once pg_control says
 * "shut down": the checkpoint is written and no backend is left), else read-only plus
 * terminating sessions. Precondition: preflight passed.
 * Undo: an immediate stop if its postmaster is still exiting, start it again / reset read-only,
 * prove it accepts writes on a new connection, RESUME (clients stay paused if it does not), and
 * only then wait for the replicas to reattach.
 */
import { StepFailedError } from '../errors.js';
import { messageOf, NodeSession } from '../postgres/session.js';
import { pollNode } from './poll.js';
import { formatLsn, parseLsn } from '../model/lsn.js';
import { askWritable, isWritable } from '../postgres/writable.js';
import { controlDataCommand, ensureExited, localPostmasterPid, readControlData, startServer, stopCommand, stopFast } from '../postgres/server-control.js';
import { routerKind } from '../routers/registry.js';
import { shellAction, sqlAction, type StepContext, type StepDefinition } from './types.js';

export const READ_ONLY_SQL = ['ALTER SYSTEM SET default_transaction_read_only = on', 'SELECT pg_reload_conf()'];
export const READ_WRITE_SQL = ['ALTER SYSTEM RESET default_transaction_read_only', 'SELECT pg_reload_conf()'];
const TERMINATE_SQL = `SELECT count(pg_terminate_backend(pid, 5000))::int AS n FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> $1`;
const FLUSH_SQL = 'SELECT pg_current_wal_flush_lsn()::text AS lsn';

export const fenceWritesStep: StepDefinition<'fence-writes'> = {
  kind: 'fence-writes',
  title: (_s, plan) => `fence writes (${plan.fenceMethod === 'clean-stop' ? `pause pooler, stop ${plan.primary.name} cleanly` : `pause pooler, ${plan.primary.name} read-only`})`,
  describe(step, plan) {
    const pauses = plan.inventory.poolers.flatMap((p) => routerKind(p.kind).describe.hold(p, step.pause_timeout));
    if (plan.fenceMethod === 'read-only') {
      return [...pauses, ...READ_ONLY_SQL.map((sql) => sqlAction(plan.primary.name, sql)),
        sqlAction(plan.primary.name, TERMINATE_SQL.replace('$1', "'<this run>'")), sqlAction(plan.primary.name, FLUSH_SQL)];
    }
    const stop = plan.primary.hostAccess?.kind === 'local'
      ? `[${plan.primary.name}] signal: SIGINT to the postmaster (pid from ${plan.primary.dataDir}/postmaster.pid), wait for it to exit (fast shutdown)`
      : shellAction(plan.primary.name, stopCommand(plan.primary, step.stop_timeout));
    return [...pauses, stop, shellAction(plan.primary.name, controlDataCommand(plan.primary)) + "  (require 'shut down'; final LSN = latest checkpoint)"];
  },
  async run(step, ctx) {
    ctx.facts.fencedAt = performance.now();
    try {
      await pauseAll(ctx, step.pause_timeout);
      return await (ctx.fenceMethod === 'clean-stop' ? stopCleanly(ctx, step.stop_timeout) : fenceReadOnly(ctx));
    } catch (error) {
      if (!(await answers(ctx))) {
        ctx.facts.notes.push(`${ctx.primary.name} does not answer a new connection (hung?): a planned switchover cannot verify its final WAL position; if it stays that way, use the failover procedure`);
      }
      throw error;
    }
  },
  async undo(_step, ctx) {
    const done: string[] = [];
    const runner = ctx.host(ctx.primary);
    const restart = ctx.facts.stopRequested && runner !== undefined;
    if (restart) {
      const how = await ensureExited(runner, ctx.primary, ctx.facts.postmasterPid, 0).catch((error: Error) => {
        ctx.facts.leftToDo.push(`${ctx.primary.name} cannot be restarted: ${error.message}. Clients stay paused rather than reach it. If it comes back, run the same command again (it undoes this run); if it stays hung, fail over to a replica`);
        throw error;
      });
      await startServer(runner, ctx.primary, 60_000);
      ctx.facts.stopRequested = false;
      ctx.facts.oldPrimaryStopped = false;
      done.push(`started ${ctx.primary.name} again as primary${how === 'forced' ? ' (its shutdown was cut short with an immediate stop)' : ''}`);
    }
    if (ctx.facts.readOnlyApplied) {
      const session = await ctx.connections.node(ctx.primary.name);
      for (const sql of READ_WRITE_SQL) await session.query(sql);
      ctx.facts.readOnlyApplied = false;
      done.push(`${ctx.primary.name} writable again`);
    }
    // Clients are resumed only onto a server proven to accept writes; else they stay paused.
    await proveWritable(ctx, ctx.primary.name);
    done.push(...(await resumeAll(ctx)));
    // Replicas reattach after clients are back, not while they wait.
    if (restart) done.push(await waitReattached(ctx));
    return done.join('; ') || 'nothing to undo';
  },
};

/** Throws unless `node` accepts a new connection and answers it as a writable primary. */
export async function proveWritable(ctx: StepContext, node: string): Promise<void> {
  const spec = ctx.inventory.nodes.find((n) => n.name === node)!;
  const seen = await askWritable(node, spec.conn, { applicationName: ctx.applicationName, attempts: 2, connectTimeoutMs: 3000, queryTimeoutMs: 5000 })
    .catch((error: unknown) => {
      throw new StepFailedError(`not resuming clients: ${node} does not answer a new connection (${messageOf(error)})`);
    });
  if (!isWritable(seen)) {
    throw new StepFailedError(`not resuming clients: ${node} does not accept writes (in recovery: ${seen.inRecovery}, read-only: ${seen.readOnly})`);
  }
}

/**
 * After a restart, replicas reconnect within wal_retrieve_retry_interval (5 s by default); wait
 * for the ones that answer, so the cluster is left as it was found, not half-attached.
 */
async function waitReattached(ctx: StepContext): Promise<string> {
  const candidates = [ctx.target, ...ctx.siblings.filter((s) => ctx.waitFor.includes(s.name))].filter((n) => n.name !== ctx.primary.name);
  const expected = (await Promise.all(candidates.map((n) => willReattach(ctx, n.name)))).filter(Boolean).length;
  try {
    const attached = await pollNode(ctx, {
      node: ctx.primary.name, timeoutMs: 15_000, intervalMs: 100, what: 'replicas reattaching',
      probe: async (session) => (await session.one<{ n: number }>(ATTACHED_SQL)).n,
      done: (count) => count >= expected,
    });
    return `${attached} replica(s) streaming again`;
  } catch {
    ctx.facts.notes.push(`not every replica reattached to ${ctx.primary.name} within 15 s; check pg_stat_replication`);
    return 'replicas still reattaching';
  }
}

const ATTACHED_SQL = `SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'`;

/** A node that is gone, or whose replay is paused (its startup process restarts streaming), will not reattach. */
async function willReattach(ctx: StepContext, name: string): Promise<boolean> {
  const session = ctx.connections.nodes.get(name);
  if (!(session instanceof NodeSession) || !session.isOpen) return false;
  const row = await session.one<{ running: boolean }>(`SELECT pg_get_wal_replay_pause_state() = 'not paused' AS running`, [], 2000).catch(() => undefined);
  return row?.running ?? false;
}

/** Whether the old primary accepts a new connection and answers within a second. */
async function answers(ctx: StepContext): Promise<boolean> {
  if (ctx.facts.oldPrimaryStopped) return true;
  const options = { applicationName: ctx.applicationName, attempts: 1, connectTimeoutMs: 1000, queryTimeoutMs: 1000 };
  return askWritable(ctx.primary.name, ctx.primary.conn, options).then(() => true, () => false);
}

async function pauseAll(ctx: StepContext, timeoutMs: number): Promise<void> {
  const results = await Promise.allSettled(
    ctx.inventory.poolers.map(async (spec) => {
      ctx.facts.pausedPoolers.add(spec.name);
      await ctx.connections.router(spec.name).hold(timeoutMs);
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Releases the routers this run held (all, or those named by `only`), in parallel. */
export async function resumeAll(ctx: StepContext, only?: ReadonlySet<string>): Promise<string[]> {
  const paused = ctx.inventory.poolers.filter((spec) => ctx.facts.pausedPoolers.has(spec.name) && (!only || only.has(spec.name)));
  const done = await Promise.all(paused.map(async (spec) => {
    const summary = await ctx.connections.router(spec.name).release();
    ctx.facts.pausedPoolers.delete(spec.name);
    return summary;
  }));
  ctx.facts.resumedAt = performance.now();
  return done;
}

async function stopCleanly(ctx: StepContext, timeoutMs: number): Promise<string> {
  const runner = ctx.host(ctx.primary);
  if (!runner) throw new StepFailedError(`${ctx.primary.name} has no host_access: cannot stop it cleanly`);
  ctx.facts.postmasterPid ??= localPostmasterPid(runner, ctx.primary);
  const started = performance.now();
  ctx.facts.stopRequested = true;
  const { exited } = await stopFast(runner, ctx.primary, timeoutMs, ctx.facts.postmasterPid);
  const stoppedMs = performance.now() - started;
  const control = await readControlData(runner, ctx.primary);
  if (control.state !== 'shut down' || control.checkpointLsn === undefined) {
    throw new StepFailedError(`${ctx.primary.name} did not shut down cleanly (pg_controldata: "${control.state}"); its final position is unknown`);
  }
  ctx.facts.oldPrimaryStopped = true;
  ctx.facts.finalLsn = control.checkpointLsn;
  ctx.facts.finalLsnSource = 'latest checkpoint in pg_control after the clean shutdown';
  ctx.facts.oldTimeline = control.timeline;
  const state = exited ? 'stopped' : 'wrote its shutdown checkpoint (postmaster still exiting)';
  return `${ctx.primary.name} ${state} in ${Math.round(stoppedMs)} ms; shutdown checkpoint at ${formatLsn(control.checkpointLsn)}`;
}

async function fenceReadOnly(ctx: StepContext): Promise<string> {
  const session = await ctx.connections.node(ctx.primary.name);
  ctx.facts.readOnlyApplied = true;
  for (const sql of READ_ONLY_SQL) await session.query(sql);
  const { n } = await session.one<{ n: number }>(TERMINATE_SQL, [ctx.applicationName]);
  const lsn = parseLsn((await session.one<{ lsn: string }>(FLUSH_SQL)).lsn);
  ctx.facts.finalLsn = lsn;
  ctx.facts.finalLsnSource = 'flush position after the read-only fence (weaker: a running server still writes some WAL)';
  return `${ctx.primary.name} read-only, ${n} session(s) terminated; flush position ${formatLsn(lsn)}`;
}

