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
import { sqlText, type StepDefinition } from './types.js';

const schema = stepParams('wait-catchup', { timeout: duration('10s'), poll_interval: duration('2ms') });
const NUDGE_AFTER_MS = 100;

export const waitCatchupStep: StepDefinition<typeof schema> = {
  schema,
  pauseBudget: (s) => s.timeout,
  title: (_s, plan) => `wait for ${plan.target.name} to replay ${plan.primary.name}'s final WAL`,
  actions: (step, plan) => [{
    text: `${sqlText(plan.target.name, REPLAY_SQL)}  (every ${step.poll_interval} ms, up to ${step.timeout} ms, until ${FENCE_MODES[plan.fenceMethod].catchupText}; ${RELOAD_SQL} if it stalls ${NUDGE_AFTER_MS} ms)`,
    run: async (ctx, out) => {
      const final = ctx.outputs['fence-writes'].finalLsn;
      if (final === undefined) throw new StepFailedError(`the final WAL position of ${ctx.primary.name} is unknown`);
      const caughtUp = (lsn: Lsn | undefined) => lsn !== undefined && FENCE_MODES[ctx.fenceMethod].caughtUp(lsn, final);
      let nudgedAt = performance.now();
      const replay = await pollNode(ctx, {
        node: ctx.target.name, timeoutMs: step.timeout, intervalMs: step.poll_interval, signal: ctx.signal,
        what: `${ctx.target.name} replaying up to ${formatLsn(final)}`,
        probe: async (session) => {
          const lsn = parseLsn((await session.one<{ lsn: string }>(REPLAY_SQL)).lsn);
          if (!caughtUp(lsn) && performance.now() - nudgedAt > NUDGE_AFTER_MS) {
            // Seen here about once in 30 runs: the WAL had arrived but the startup process slept
            // its 5 s timeout. SIGHUP (a config reload) wakes it; nothing in the config changes.
            nudgedAt = performance.now();
            ctx.record('catchup-nudged', { target: ctx.target.name, replayLsn: formatLsn(lsn) });
            await session.query(RELOAD_SQL);
          }
          return lsn;
        },
        done: caughtUp,
        describe: (lsn) => `replayed ${formatLsn(lsn)}`,
      });
      out.targetReplayLsn = replay;
      return `${ctx.target.name} replayed ${formatLsn(replay)} (old primary's final ${formatLsn(final)})`;
    },
  }],
};
