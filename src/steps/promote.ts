/**
 * promote — the point of no return. Checks once more that the target has replayed the final
 * position, requests promotion with pg_promote(false) and polls pg_is_in_recovery() itself
 * (pg_promote(true) polls every 100 ms). A timeout is reported, never retried blindly: the
 * promotion may still complete later. Undo: none, by design.
 */
import { StepFailedError } from '../errors.js';
import { formatLsn, parseLsn } from '../postgres/lsn.js';
import { pollNode } from './poll.js';
import { sqlAction, type StepContext, type StepDefinition } from './types.js';

const REPLAY_SQL = 'SELECT pg_last_wal_replay_lsn()::text AS lsn';
const PROMOTE_SQL = 'SELECT pg_promote(false)';
const IN_RECOVERY_SQL = 'SELECT pg_is_in_recovery() AS in_recovery';
export const TIMELINE_SQL = "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli";
const SETTINGS_SQL = "SELECT current_setting('synchronous_standby_names') AS sync, current_setting('default_transaction_read_only') AS ro";
const CLEANUP_SQL = ['ALTER SYSTEM RESET primary_conninfo', 'ALTER SYSTEM RESET primary_slot_name'];

export const promoteStep: StepDefinition<'promote'> = {
  kind: 'promote',
  title: (_s, plan) => `promote ${plan.target.name}`,
  describe: (step, plan) => [
    sqlAction(plan.target.name, REPLAY_SQL) + '  (must still be at or past the final position)',
    sqlAction(plan.target.name, PROMOTE_SQL),
    `${sqlAction(plan.target.name, IN_RECOVERY_SQL)}  (every ${step.poll_interval} ms, up to ${step.timeout} ms)`,
    sqlAction(plan.target.name, TIMELINE_SQL),
    sqlAction(plan.target.name, `${CLEANUP_SQL.join('; ')}; SELECT pg_reload_conf()  (and synchronous_standby_names = '' if set)`),
  ],
  async run(step, ctx) {
    const session = await ctx.connections.node(ctx.target.name);
    const replay = parseLsn((await session.one<{ lsn: string }>(REPLAY_SQL)).lsn);
    const final = ctx.facts.finalLsn;
    if (final === undefined || replay === undefined || replay < final) {
      throw new StepFailedError(`${ctx.target.name} is at ${formatLsn(replay)}, behind the final position ${formatLsn(final)}: not promoting`);
    }
    ctx.facts.targetReplayLsn = replay;
    ctx.facts.promoteRequested = true;
    ctx.record('point-of-no-return', { target: ctx.target.name, replayLsn: formatLsn(replay) });
    await session.query(PROMOTE_SQL);
    await pollNode(ctx, {
      node: ctx.target.name, timeoutMs: step.timeout, intervalMs: step.poll_interval,
      what: `promotion of ${ctx.target.name}`,
      probe: async (s) => (await s.one<{ in_recovery: boolean }>(IN_RECOVERY_SQL)).in_recovery,
      done: (inRecovery) => !inRecovery,
    });
    ctx.facts.promoted = true;
    return `${ctx.target.name} promoted; ${await afterPromotion(ctx)}`;
  },
};

/** Timeline, and settings that would hurt a new primary. */
export async function afterPromotion(ctx: StepContext): Promise<string> {
  const session = await ctx.connections.node(ctx.target.name);
  ctx.facts.newTimeline = (await session.one<{ tli: number }>(TIMELINE_SQL)).tli;
  ctx.facts.oldTimeline ??= ctx.primaryObs?.timeline;
  const settings = await session.one<{ sync: string; ro: string }>(SETTINGS_SQL);
  const changes = [...CLEANUP_SQL];
  if (settings.sync !== '') {
    changes.push("ALTER SYSTEM SET synchronous_standby_names = ''");
    ctx.facts.notes.push(`synchronous_standby_names ('${settings.sync}') cleared on ${ctx.target.name}; set it again once its standbys stream`);
  }
  if (settings.ro === 'on') changes.push('ALTER SYSTEM RESET default_transaction_read_only');
  for (const sql of changes) await session.query(sql);
  await session.query('SELECT pg_reload_conf()');
  return `timeline ${ctx.facts.oldTimeline} -> ${ctx.facts.newTimeline}`;
}
