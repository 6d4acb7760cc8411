/**
 * promote — the point of no return. Checks once more that the target has replayed the final
 * position, requests promotion with pg_promote(false) and polls pg_is_in_recovery() itself
 * (pg_promote(true) polls every 100 ms). A timeout is reported, never retried blindly: the
 * promotion may still complete later. Then, inside the pause, only what would make writes fail
 * or hang on the new primary: unattached synchronous standbys, a read-only default (both known
 * from the snapshot). Output: the replay position when promoted. Undo: none, by design.
 */
import { StepFailedError } from '../errors.js';
import { formatLsn, parseLsn } from '../model/lsn.js';
import { duration, stepParams } from '../playbook/fields.js';
import { IN_RECOVERY_SQL, RELOAD_SQL, REPLAY_SQL, RESET_READ_ONLY_SQL } from '../postgres/sql.js';
import { pollNode } from './poll.js';
import { sqlText, type Action, type OutputOf, type PlanContext, type StepDefinition } from './types.js';

const schema = stepParams('promote', { timeout: duration('30s'), poll_interval: duration('2ms') });
type Out = OutputOf<typeof schema>;
const PROMOTE_SQL = 'SELECT pg_promote(false)';
const RENUDGE_MS = 100;

export const promoteStep: StepDefinition<typeof schema> = {
  schema,
  pointOfNoReturn: true,
  pauseBudget: (s) => s.timeout,
  title: (_s, plan) => `promote ${plan.target.name}`,
  actions: (step, plan) => [
    {
      text: `${sqlText(plan.target.name, REPLAY_SQL)}  (must still be at or past the final position)`,
      run: async (ctx, out) => {
        const replay = parseLsn(
          (await (await ctx.connections.node(ctx.target.name)).one<{ lsn: string }>(REPLAY_SQL)).lsn,
        );
        // What wait-catchup accepted: past the final position, or (a failover) every complete record received.
        const final = ctx.outputs['wait-catchup'].targetReplayLsn ?? ctx.outputs['fence-writes'].finalLsn;
        if (final === undefined || replay === undefined || replay < final) {
          throw new StepFailedError(
            `${ctx.target.name} is at ${formatLsn(replay)}, behind the final position ${formatLsn(final)}: not promoting`,
          );
        }
        out.targetReplayLsn = replay;
        out.oldTimeline = ctx.outputs['fence-writes'].oldTimeline ?? ctx.primaryObs?.timeline;
      },
    },
    {
      text: sqlText(plan.target.name, PROMOTE_SQL),
      noReturn: (ctx, out) => ({
        target: ctx.target.name,
        replayLsn: formatLsn(out.targetReplayLsn),
        oldTimeline: out.oldTimeline,
      }),
      run: async (ctx) => {
        await (await ctx.connections.node(ctx.target.name)).query(PROMOTE_SQL);
      },
    },
    {
      text: `${sqlText(plan.target.name, IN_RECOVERY_SQL)}  (every ${step.poll_interval} ms, up to ${step.timeout} ms)`,
      run: async (ctx) => {
        let lastRequest = performance.now();
        await pollNode(ctx, {
          node: ctx.target.name,
          timeoutMs: step.timeout,
          intervalMs: step.poll_interval,
          what: `promotion of ${ctx.target.name}`,
          probe: async (s) => {
            const { in_recovery: inRecovery } = await s.one<{ in_recovery: boolean }>(IN_RECOVERY_SQL);
            if (inRecovery && performance.now() - lastRequest > RENUDGE_MS) {
              // Now and then (2 of 12 under load here) the request sits until the startup process wakes
              // (up to 5 s); a normal promotion takes 20-50 ms, so asking again after 100 ms is harmless.
              lastRequest = performance.now();
              ctx.record('promote-requested-again', { target: ctx.target.name });
              await s.query(PROMOTE_SQL).catch(() => undefined);
            }
            return inRecovery;
          },
          done: (inRecovery) => !inRecovery,
        });
        ctx.noReturn.confirmed = true;
        return `${ctx.target.name} promoted`;
      },
    },
    ...unblockWrites(plan),
  ],
};

/** Settings that would make writes fail or hang on the new primary, as the snapshot shows them. */
function unblockWrites(plan: PlanContext): Action<Out>[] {
  const settings = plan.targetObs?.settings ?? {};
  const changes: string[] = [];
  if (settings.synchronous_standby_names) changes.push("ALTER SYSTEM SET synchronous_standby_names = ''");
  if (settings.default_transaction_read_only === 'on') changes.push(RESET_READ_ONLY_SQL);
  if (changes.length === 0) return [];
  return [...changes, RELOAD_SQL].map((sql) => ({
    text: sqlText(plan.target.name, sql),
    run: async (ctx) => {
      if (sql.includes('synchronous_standby_names')) {
        ctx.log.notes.push(
          `synchronous_standby_names ('${settings.synchronous_standby_names}') cleared on ${ctx.target.name}; set it again once its standbys stream`,
        );
      }
      await (await ctx.connections.node(ctx.target.name)).query(sql);
    },
  }));
}
