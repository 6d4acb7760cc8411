/**
 * demote-old-primary — the old primary rejoins as a replica of the new one, so the cluster keeps
 * its replicas and the next switchover can go back. It was stopped cleanly and the target
 * replayed its shutdown checkpoint, so no rewind is needed: standby.signal, start, point it at
 * the new primary, wait until it streams. Without host access it stays fenced read-only and the
 * report says so. Precondition: promoted. Undo: none.
 */
import { conninfoTowards, maskConninfo, slotNameFor } from '../postgres/conninfo.js';
import { parseConninfo } from '../inventory/dsn.js';
import { ensureExited, markStandby, standbySignalCommand, startCommand, startServer } from '../postgres/server-control.js';
import type { HostRunner } from '../shell/host.js';
import { ENSURE_SLOT_SQL, pointAt, waitStreaming } from './follow.js';
import { quoteLiteral } from './poll.js';
import { shellAction, sqlAction, type PlanContext, type StepContext, type StepDefinition } from './types.js';

const DROP_SLOT_SQL = `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
  WHERE slot_name = ANY($1) AND NOT active AND slot_type = 'physical'`;

export const demoteOldPrimaryStep: StepDefinition<'demote-old-primary'> = {
  kind: 'demote-old-primary',
  title: (_s, plan) => plan.fenceMethod === 'clean-stop'
    ? `restart ${plan.primary.name} as a replica of ${plan.target.name}`
    : `leave ${plan.primary.name} fenced read-only (no host access)`,
  describe(step, plan) {
    if (plan.fenceMethod !== 'clean-stop') return [`none: ${plan.primary.name} stays read-only; the report says how to rejoin it`];
    const { slot, conninfo } = upstreamFor(plan);
    return [
      ...(slot ? [sqlAction(plan.target.name, ENSURE_SLOT_SQL.replace(/\$1/g, quoteLiteral(slot)))] : []),
      shellAction(plan.primary.name, standbySignalCommand(plan.primary)),
      shellAction(plan.primary.name, startCommand(plan.primary, step.timeout)),
      sqlAction(plan.primary.name, `ALTER SYSTEM SET primary_conninfo = ${quoteLiteral(maskConninfo(conninfo))}`),
      sqlAction(plan.primary.name, slot ? `ALTER SYSTEM SET primary_slot_name = ${quoteLiteral(slot)}` : 'ALTER SYSTEM RESET primary_slot_name'),
      sqlAction(plan.primary.name, 'SELECT pg_reload_conf()'),
      sqlAction(plan.primary.name, 'drop its own inactive physical slots named after cluster nodes (a replica must not hold WAL for them)'),
    ];
  },
  async run(step, ctx) {
    if (ctx.fenceMethod !== 'clean-stop') {
      ctx.facts.oldPrimaryRole = 'fenced read-only (still running)';
      ctx.facts.leftToDo.push(
        `${ctx.primary.name} is fenced read-only, not a replica: stop it, pg_rewind it against ${ctx.target.name} ` +
        `(pg_rewind --source-server='<${ctx.target.name} conninfo>' -D <data_dir> -R), then start it as a standby`);
      return `${ctx.primary.name} stays fenced read-only`;
    }
    if (ctx.primary.name === ctx.target.name) return 'no old primary to demote';
    const runner = ctx.host(ctx.primary);
    const { slot } = upstreamFor(ctx);
    const running = ctx.facts.oldPrimaryStopped ? undefined : await runningRole(ctx);
    if (running === 'primary') throw new Error(`${ctx.primary.name} is running as a primary: two primaries; stop it now`);
    if (running === undefined) {
      if (!runner) throw new Error(`${ctx.primary.name} is stopped and has no host_access: start it as a standby by hand`);
      if (ctx.facts.stopRequested) await waitForExit(ctx, runner);
      await markStandby(runner, ctx.primary);
      await startServer(runner, ctx.primary, step.timeout);
      ctx.facts.stopRequested = false;
    }
    ctx.facts.oldPrimaryStopped = false;
    const existing = ctx.replication.conninfo;
    await pointAt(ctx, ctx.primary, existing, slot, parseConninfo(existing).application_name ? ctx.primary.name : undefined);
    const session = await ctx.connections.node(ctx.primary.name);
    const ownSlots = ctx.inventory.nodes.map((n) => slotNameFor(n.name));
    await session.query(DROP_SLOT_SQL, [ownSlots]).catch((error: Error) => ctx.facts.notes.push(`could not drop old slots on ${ctx.primary.name}: ${error.message}`));
    await waitStreaming(ctx, ctx.primary, step.timeout);
    ctx.facts.oldPrimaryRole = `replica streaming from ${ctx.target.name}`;
    return `${ctx.primary.name} is a replica of ${ctx.target.name}`;
  },
};

/**
 * The old postmaster may still be waiting for a standby (a partitioned one) to confirm its
 * shutdown checkpoint, for up to wal_sender_timeout. The checkpoint is written and replayed by
 * the new primary, so after a short grace an immediate stop loses nothing.
 */
async function waitForExit(ctx: StepContext, runner: HostRunner): Promise<void> {
  const how = await ensureExited(runner, ctx.primary, ctx.facts.postmasterPid, 1000);
  if (how === 'forced') {
    ctx.facts.notes.push(`${ctx.primary.name}'s postmaster was still waiting for a standby to confirm its shutdown checkpoint; it was ended with an immediate stop (safe once the checkpoint is written)`);
  }
}

/** 'replica' or 'primary' when the old primary answers, undefined when it is down. */
async function runningRole(ctx: StepContext): Promise<'primary' | 'replica' | undefined> {
  try {
    const session = await ctx.connections.node(ctx.primary.name);
    const row = await session.one<{ in_recovery: boolean }>('SELECT pg_is_in_recovery() AS in_recovery');
    return row.in_recovery ? 'replica' : 'primary';
  } catch {
    return undefined;
  }
}

/** Slot and conninfo the old primary will use: modelled on how the target streamed from it. */
function upstreamFor(plan: PlanContext): { slot: string; conninfo: string } {
  const slot = plan.replication.usesSlots ? slotNameFor(plan.primary.name) : '';
  const existing = plan.replication.conninfo;
  return { slot, conninfo: conninfoTowards(existing, plan.target.conn, parseConninfo(existing).application_name ? plan.primary.name : undefined) };
}
