/**
 * wait-catchup — waits until the target has replayed the old primary's final WAL position, as
 * the fence mode judges it (past the shutdown checkpoint after a clean stop, up to the flush
 * position after a read-only fence). This is the zero-data-loss evidence. Output: the replay
 * position reached. Undo: nothing to undo.
 */
import { StepFailedError } from '../errors.js';
import { formatLsn, parseLsn, type Lsn } from '../model/lsn.js';
import { duration, stepParams } from '../playbook/fields.js';
import { RELOAD_SQL, REPLAY_SQL } from '../postgres/sql.js';
import { FENCE_MODES } from './fence-modes.js';
import { pollNode } from './poll.js';
import { markerMissing, markerSeen } from './role-fence.js';
import { sqlText, type StepDefinition } from './types.js';

const schema = stepParams('wait-catchup', { timeout: duration('10s'), poll_interval: duration('2ms') });
const NUDGE_AFTER_MS = 100;
const SETTLE_MS = 100;
const SETTLE_SQL = 'SELECT pg_last_wal_replay_lsn()::text AS lsn, pg_last_wal_receive_lsn()::text AS received';

export const waitCatchupStep: StepDefinition<typeof schema> = {
  schema,
  pauseBudget: (s) => s.timeout,
  title: (_s, plan) => `wait for ${plan.target.name} to replay ${plan.primary.name}'s final WAL`,
  actions: (step, plan) => [
    {
      text: `${sqlText(plan.target.name, REPLAY_SQL)}  (every ${step.poll_interval} ms, up to ${step.timeout} ms, until ${FENCE_MODES[plan.fenceMethod].catchupText}; ${RELOAD_SQL} if it stalls ${NUDGE_AFTER_MS} ms)`,
      run: async (ctx, out) => {
        // The platform's own switchover syncs the target before it swaps roles: nothing of ours to wait for.
        if (FENCE_MODES[ctx.fenceMethod].platform)
          return `left to the platform's switchover (${FENCE_MODES[ctx.fenceMethod].catchupText})`;
        const final = ctx.outputs['fence-writes'].finalLsn;
        if (final === undefined) throw new StepFailedError(`the final WAL position of ${ctx.primary.name} is unknown`);
        const mode = FENCE_MODES[ctx.fenceMethod];
        const caughtUp = (lsn: Lsn | undefined) => lsn !== undefined && mode.caughtUp(lsn, final);
        let nudgedAt = performance.now();
        // For a mode that settles: when replay and receipt last moved (a changed pair restarts the clock).
        let seen = '';
        let stillSince = performance.now();
        const settled = () => mode.failover === true && performance.now() - stillSince >= SETTLE_MS;
        const replay = await pollNode(ctx, {
          node: ctx.target.name,
          timeoutMs: step.timeout,
          intervalMs: step.poll_interval,
          signal: ctx.signal,
          what: `${ctx.target.name} replaying up to ${formatLsn(final)}`,
          probe: async (session) => {
            const row = await session.one<{ lsn: string; received: string | null }>(
              mode.failover ? SETTLE_SQL : REPLAY_SQL,
            );
            const lsn = parseLsn(row.lsn);
            if (`${row.lsn}/${row.received}` !== seen) {
              seen = `${row.lsn}/${row.received}`;
              stillSince = performance.now();
            }
            if (!caughtUp(lsn) && performance.now() - nudgedAt > NUDGE_AFTER_MS) {
              // Seen here about once in 30 runs: the WAL had arrived but the startup process slept
              // its 5 s timeout. SIGHUP (a config reload) wakes it; nothing in the config changes.
              nudgedAt = performance.now();
              ctx.record('catchup-nudged', { target: ctx.target.name, replayLsn: formatLsn(lsn) });
              await session.query(RELOAD_SQL);
            }
            return lsn;
          },
          done: (lsn) => caughtUp(lsn) || (lsn !== undefined && settled()),
          describe: (lsn) => `replayed ${formatLsn(lsn)}`,
        });
        out.targetReplayLsn = replay;
        const marker = ctx.outputs['fence-writes'].marker;
        if (marker !== undefined) {
          // The role fence's second proof: the row the tool wrote after the fence is visible there.
          if (!(await markerSeen(await ctx.connections.node(ctx.target.name), marker)))
            throw markerMissing(ctx.target.name, marker, formatLsn(replay));
          ctx.record('catchup-proof', {
            target: ctx.target.name,
            finalLsn: formatLsn(final),
            replayLsn: formatLsn(replay),
            marker,
          });
          ctx.log.notes.push(
            `catch-up proof: ${ctx.target.name} replayed ${formatLsn(replay)} >= ${formatLsn(final)} (${ctx.outputs['fence-writes'].finalLsnSource}) and sees the marker row`,
          );
          return `${ctx.target.name} replayed ${formatLsn(replay)} (final ${formatLsn(final)}) and sees the marker of run ${marker}`;
        }
        if (!caughtUp(replay)) {
          return `${ctx.target.name} replayed ${formatLsn(replay)}, every complete record it received (it received up to ${formatLsn(final)}: the rest is a record ${ctx.primary.name} never finished sending)`;
        }
        return `${ctx.target.name} replayed ${formatLsn(replay)} (old primary's final ${formatLsn(final)})`;
      },
    },
  ],
};
