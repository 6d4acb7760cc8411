/**
 * check-lag — the target's replay lag right before the fence, so the pause is not spent on a
 * backlog that grew since preflight. Effect: none. Undo: nothing to undo.
 */
import { StepFailedError } from '../errors.js';
import { lsnDiff, parseLsn } from '../model/lsn.js';
import { sqlAction, type StepDefinition } from './types.js';

const PRIMARY_SQL = 'SELECT pg_current_wal_flush_lsn()::text AS lsn';
const TARGET_SQL = 'SELECT pg_last_wal_replay_lsn()::text AS lsn';

export const checkLagStep: StepDefinition<'check-lag'> = {
  kind: 'check-lag',
  title: (s, plan) => `check ${plan.target.name} lag (limit ${s.max_lag_bytes} B)`,
  describe: (_s, plan) => [sqlAction(plan.primary.name, PRIMARY_SQL), sqlAction(plan.target.name, TARGET_SQL)],
  async run(step, ctx) {
    const primary = await ctx.connections.node(ctx.primary.name);
    const target = await ctx.connections.node(ctx.target.name);
    const flush = parseLsn((await primary.one<{ lsn: string }>(PRIMARY_SQL)).lsn);
    const replay = parseLsn((await target.one<{ lsn: string }>(TARGET_SQL)).lsn);
    const lag = lsnDiff(flush, replay);
    if (lag === undefined || lag > BigInt(step.max_lag_bytes)) {
      throw new StepFailedError(`${ctx.target.name} replay lag ${lag ?? 'unknown'} B exceeds ${step.max_lag_bytes} B`);
    }
    return `${ctx.target.name} replay lag ${lag} B`;
  },
};
