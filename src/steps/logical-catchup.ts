/**
 * logical-catchup — a major upgrade's zero-loss evidence: every database's subscription has
 * confirmed (applied and flushed on the target) the source's position after the read-only fence,
 * read from the source's slots: an LSN, not a lag estimate. Output: none. Undo: nothing to undo.
 */
import { StepFailedError } from '../errors.js';
import { formatLsn, parseLsn } from '../model/lsn.js';
import { subscriptionName } from '../model/logical.js';
import { duration, stepParams } from '../playbook/fields.js';
import { pollNode } from './poll.js';
import { sqlText, type StepDefinition } from './types.js';

const schema = stepParams('logical-catchup', { timeout: duration('10s'), poll_interval: duration('5ms') });
const SLOTS_SQL =
  'SELECT slot_name, confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = ANY($1)';

export const logicalCatchupStep: StepDefinition<typeof schema> = {
  schema,
  pauseBudget: (s) => s.timeout,
  title: (_s, plan) => `wait for ${plan.target.name} to apply ${plan.primary.name}'s final WAL (logical replication)`,
  actions: (step, plan) => [
    {
      text: `${sqlText(plan.primary.name, SLOTS_SQL.replace('$1', `'{${(plan.upgrade?.databases ?? []).map(subscriptionName).join(',')}}'`))}  (every ${step.poll_interval} ms, up to ${step.timeout} ms, until each slot's confirmed_flush_lsn >= the position after the fence)`,
      run: async (ctx) => {
        const known = ctx.outputs['fence-writes'].finalLsn;
        if (known === undefined) throw new StepFailedError(`the final WAL position of ${ctx.primary.name} is unknown`);
        const final = known;
        const slots = (ctx.upgrade?.databases ?? []).map(subscriptionName);
        await pollNode(ctx, {
          node: ctx.primary.name,
          timeoutMs: step.timeout,
          intervalMs: step.poll_interval,
          signal: ctx.signal,
          what: `${ctx.target.name} applying up to ${formatLsn(final)}`,
          probe: async (session) => {
            const rows = await session.query<{ slot_name: string; lsn: string | null }>(SLOTS_SQL, [slots]);
            return slots.filter((slot) => {
              const row = rows.find((r) => r.slot_name === slot);
              const lsn = row?.lsn ? parseLsn(row.lsn) : undefined;
              return lsn === undefined || lsn < final;
            });
          },
          done: (behind) => behind.length === 0,
          describe: (behind) => `${behind?.join(', ') ?? '?'} behind`,
        });
        return `${ctx.target.name} applied everything up to ${formatLsn(final)} (${slots.join(', ')})`;
      },
    },
  ],
};
