/**
 * wait-catchup — waits until the target has replayed the old primary's final WAL position:
 * past the shutdown checkpoint after a clean stop, or up to the flush position after a
 * read-only fence. This is the zero-data-loss evidence. Effect: none. Undo: nothing to undo.
 */
import { StepFailedError } from '../errors.js';
import { formatLsn, parseLsn, type Lsn } from '../model/lsn.js';
import { pollNode } from './poll.js';
import { sqlAction, type StepDefinition } from './types.js';

export const REPLAY_SQL = 'SELECT pg_last_wal_replay_lsn()::text AS lsn';
const NUDGE_AFTER_MS = 100;

export const waitCatchupStep: StepDefinition<'wait-catchup'> = {
  kind: 'wait-catchup',
  title: (_s, plan) => `wait for ${plan.target.name} to replay ${plan.primary.name}'s final WAL`,
  describe: (step, plan) => [
    `${sqlAction(plan.target.name, REPLAY_SQL)}  (every ${step.poll_interval} ms, up to ${step.timeout} ms, until ${plan.fenceMethod === 'clean-stop' ? '> shutdown checkpoint' : '>= flush position after fence'})`,
  ],
  async run(step, ctx) {
    const final = ctx.facts.finalLsn;
    if (final === undefined) throw new StepFailedError(`the final WAL position of ${ctx.primary.name} is unknown`);
    // The replay position is the end of the last replayed record, so a replayed checkpoint record is > its start.
    const caughtUp = (lsn: Lsn | undefined) => lsn !== undefined && (ctx.fenceMethod === 'clean-stop' ? lsn > final : lsn >= final);
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
          await session.query('SELECT pg_reload_conf()');
        }
        return lsn;
      },
      done: caughtUp,
      describe: (lsn) => `replayed ${formatLsn(lsn)}`,
    });
    ctx.facts.targetReplayLsn = replay;
    return `${ctx.target.name} replayed ${formatLsn(replay)} (old primary's final ${formatLsn(final)})`;
  },
};
