/**
 * check-lag — the target's replay lag right before the fence, so the pause is not spent on a
 * backlog that grew since preflight. Effect: none. Undo: nothing to undo.
 */
import { StepFailedError } from '../errors.js';
import { lsnDiff, parseLsn, type Lsn } from '../model/lsn.js';
import { bytes, stepParams } from '../playbook/fields.js';
import { FLUSH_SQL, REPLAY_SQL } from '../postgres/sql.js';
import { sqlText, type StepDefinition } from './types.js';

const schema = stepParams('check-lag', { max_lag_bytes: bytes.default(16 * 1024 * 1024) });

export const checkLagStep: StepDefinition<typeof schema, { flush?: Lsn }> = {
  schema,
  title: (s, plan) => `check ${plan.target.name} lag (limit ${s.max_lag_bytes} B)`,
  actions: (step, plan) => [
    {
      text: sqlText(plan.primary.name, FLUSH_SQL),
      run: async (ctx, seen) => {
        seen.flush = parseLsn(
          (await (await ctx.connections.node(ctx.primary.name)).one<{ lsn: string }>(FLUSH_SQL)).lsn,
        );
      },
    },
    {
      text: sqlText(plan.target.name, REPLAY_SQL),
      run: async (ctx, seen) => {
        const replay = parseLsn(
          (await (await ctx.connections.node(ctx.target.name)).one<{ lsn: string }>(REPLAY_SQL)).lsn,
        );
        const lag = lsnDiff(seen.flush, replay);
        if (lag === undefined || lag > BigInt(step.max_lag_bytes)) {
          throw new StepFailedError(
            `${ctx.target.name} replay lag ${lag ?? 'unknown'} B exceeds ${step.max_lag_bytes} B`,
          );
        }
        return `${ctx.target.name} replay lag ${lag} B`;
      },
    },
  ],
};
