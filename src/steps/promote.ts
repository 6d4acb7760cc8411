/**
 * promote — the point of no return. Checks once more that the target has replayed the final
 * position, requests promotion with pg_promote(false) and polls pg_is_in_recovery() itself
 * (pg_promote(true) polls every 100 ms). A timeout is reported, never retried blindly: the
 * promotion may still complete later. Undo: none, by design.
 */
import { StepFailedError } from '../errors.js';
import { formatLsn, parseLsn } from '../model/lsn.js';
import { pollNode } from './poll.js';
import { REPLAY_SQL } from './wait-catchup.js';
import { sqlAction, type StepContext, type StepDefinition } from './types.js';

const PROMOTE_SQL = 'SELECT pg_promote(false)';
const IN_RECOVERY_SQL = 'SELECT pg_is_in_recovery() AS in_recovery';
const RENUDGE_MS = 500;
export const TIMELINE_SQL = "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli";
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
    ctx.facts.oldTimeline ??= ctx.primaryObs?.timeline;
    ctx.facts.promoteRequested = true;
    ctx.record('point-of-no-return', { target: ctx.target.name, replayLsn: formatLsn(replay) });
    await session.query(PROMOTE_SQL);
    let lastRequest = performance.now();
    await pollNode(ctx, {
      node: ctx.target.name, timeoutMs: step.timeout, intervalMs: step.poll_interval,
      what: `promotion of ${ctx.target.name}`,
      probe: async (s) => {
        const { in_recovery: inRecovery } = await s.one<{ in_recovery: boolean }>(IN_RECOVERY_SQL);
        if (inRecovery && performance.now() - lastRequest > RENUDGE_MS) {
          // Rarely (about 1 in 30 under load here) the request sat for 5 s; asking again is harmless.
          lastRequest = performance.now();
          ctx.record('promote-requested-again', { target: ctx.target.name });
          await s.query(PROMOTE_SQL).catch(() => undefined);
        }
        return inRecovery;
      },
      done: (inRecovery) => !inRecovery,
    });
    ctx.facts.promoted = true;
    await unblockWrites(ctx);
    return `${ctx.target.name} promoted`;
  },
};

/**
 * Inside the pause, only what would make writes fail or hang on the new primary: synchronous
 * standbys that are not attached, and a read-only default. Both are known from the snapshot.
 */
async function unblockWrites(ctx: StepContext): Promise<void> {
  const settings = ctx.targetObs?.settings ?? {};
  const changes: string[] = [];
  if (settings.synchronous_standby_names) {
    changes.push("ALTER SYSTEM SET synchronous_standby_names = ''");
    ctx.facts.notes.push(`synchronous_standby_names ('${settings.synchronous_standby_names}') cleared on ${ctx.target.name}; set it again once its standbys stream`);
  }
  if (settings.default_transaction_read_only === 'on') changes.push('ALTER SYSTEM RESET default_transaction_read_only');
  if (changes.length === 0) return;
  const session = await ctx.connections.node(ctx.target.name);
  for (const sql of changes) await session.query(sql);
  await session.query('SELECT pg_reload_conf()');
}

/** After clients resumed: the new timeline, and upstream settings a primary no longer needs. */
export async function afterPromotion(ctx: StepContext): Promise<string> {
  const session = await ctx.connections.node(ctx.target.name);
  ctx.facts.newTimeline = (await session.one<{ tli: number }>(TIMELINE_SQL)).tli;
  for (const sql of CLEANUP_SQL) await session.query(sql);
  await session.query('SELECT pg_reload_conf()');
  return `timeline ${ctx.facts.oldTimeline ?? '?'} -> ${ctx.facts.newTimeline}`;
}
