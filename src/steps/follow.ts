/**
 * follow — the other replicas stream from the new primary: a slot for each on the new primary
 * (when they use one), primary_conninfo changed and reloaded (PostgreSQL 13+ needs no restart),
 * then waits until each streams on the new timeline. Precondition: promoted. Undo: none.
 */
import type { NodeSpec } from '../inventory/model.js';
import { conninfoTowards, maskConninfo } from '../postgres/conninfo.js';
import type { NodeObservation } from '../model/node.js';
import { pollNode, quoteLiteral } from './poll.js';
import { sqlAction, type StepContext, type StepDefinition } from './types.js';

export const ENSURE_SLOT_SQL = `SELECT pg_create_physical_replication_slot($1, true)
  WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`;
const RECEIVER_SQL = `SELECT status, sender_host, sender_port, received_tli FROM pg_stat_wal_receiver`;

export const followStep: StepDefinition<'follow'> = {
  kind: 'follow',
  title: (_s, plan) => `repoint ${plan.siblings.map((s) => s.name).join(', ') || 'no other replicas'} to ${plan.target.name}`,
  describe: (_s, plan) => plan.siblings.flatMap((sibling) => {
    const obs = plan.state.nodes.find((n) => n.name === sibling.name);
    const settings = obs?.reachable ? obs.settings : {};
    return [
      ...(settings.primary_slot_name ? [sqlAction(plan.target.name, ENSURE_SLOT_SQL.replace(/\$1/g, quoteLiteral(settings.primary_slot_name)))] : []),
      sqlAction(sibling.name, `ALTER SYSTEM SET primary_conninfo = ${quoteLiteral(maskConninfo(conninfoTowards(settings.primary_conninfo ?? '', plan.target.conn)))}`),
      sqlAction(sibling.name, 'SELECT pg_reload_conf()'),
      plan.waitFor.includes(sibling.name)
        ? `${sqlAction(sibling.name, RECEIVER_SQL)}  (until streaming from ${plan.target.name})`
        : `[${sibling.name}] not waited for: ${plan.toCheck.find((c) => c.name === sibling.name)?.reason}; reported as "to check"`,
    ];
  }),
  async run(step, ctx) {
    const results = await Promise.allSettled(ctx.siblings.map((sibling) => repoint(ctx, sibling, step.timeout)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${ctx.siblings[i]!.name}: ${(r.reason as Error).message}`] : []));
    for (const name of ctx.unreachable) {
      ctx.facts.leftToDo.push(`${name} was unreachable: when it is back, point its primary_conninfo at ${ctx.target.name} (or re-clone it)`);
    }
    for (const failure of failed) ctx.facts.leftToDo.push(`make ${failure.split(':')[0]} stream from ${ctx.target.name} (${failure})`);
    if (failed.length) throw new Error(`not following ${ctx.target.name}: ${failed.join('; ')}`);
    const waited = ctx.siblings.filter((s) => ctx.waitFor.includes(s.name)).map((s) => s.name);
    const unwaited = ctx.toCheck.map((c) => c.name);
    return [
      waited.length ? `${waited.join(', ')} streaming from ${ctx.target.name}` : '',
      unwaited.length ? `${unwaited.join(', ')} repointed, not waited for (to check)` : '',
    ].filter(Boolean).join('; ') || 'no other replicas';
  },
};

async function repoint(ctx: StepContext, sibling: NodeSpec, timeoutMs: number): Promise<void> {
  const obs = ctx.state.nodes.find((n) => n.name === sibling.name) as NodeObservation | undefined;
  const settings = obs?.reachable ? obs.settings : undefined;
  if (!settings) throw new Error('was unreachable at the start of the run');
  await pointAt(ctx, sibling, settings.primary_conninfo ?? '', settings.primary_slot_name ?? '', undefined);
  const skipped = ctx.toCheck.find((c) => c.name === sibling.name);
  if (skipped) {
    ctx.facts.followers[sibling.name] = `repointed to ${ctx.target.name}, not waited for (${skipped.reason}): to check`;
    return;
  }
  await waitStreaming(ctx, sibling, timeoutMs);
  ctx.facts.followers[sibling.name] = `streaming from ${ctx.target.name}`;
}

/** Sets primary_conninfo (and slot) on `node` towards the new primary and reloads. */
export async function pointAt(ctx: StepContext, node: NodeSpec, existingConninfo: string, slot: string, applicationName: string | undefined): Promise<void> {
  if (slot) {
    const primary = await ctx.connections.node(ctx.target.name);
    await primary.query(ENSURE_SLOT_SQL, [slot]);
  }
  const session = await ctx.connections.node(node.name);
  const conninfo = conninfoTowards(existingConninfo, ctx.target.conn, applicationName);
  await session.query(`ALTER SYSTEM SET primary_conninfo = ${quoteLiteral(conninfo)}`);
  await session.query(slot ? `ALTER SYSTEM SET primary_slot_name = ${quoteLiteral(slot)}` : 'ALTER SYSTEM RESET primary_slot_name');
  await session.query('SELECT pg_reload_conf()');
}

export async function waitStreaming(ctx: StepContext, node: NodeSpec, timeoutMs: number): Promise<void> {
  const { host, port } = ctx.target.conn;
  await pollNode(ctx, {
    node: node.name, timeoutMs, intervalMs: 20, signal: undefined,
    what: `${node.name} streaming from ${ctx.target.name} on timeline ${ctx.facts.newTimeline}`,
    probe: async (session) => (await session.query<{ status: string; sender_host: string; sender_port: number; received_tli: number }>(RECEIVER_SQL))[0],
    done: (row) => row !== undefined && row.status === 'streaming' && row.sender_host === host && Number(row.sender_port) === port &&
      Number(row.received_tli) >= (ctx.facts.newTimeline ?? 0),
    describe: (row) => (row ? `${row.status} from ${row.sender_host}:${row.sender_port} timeline ${row.received_tli}` : 'no WAL receiver'),
  });
}
