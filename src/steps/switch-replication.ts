/**
 * switch-replication — before any write lands on the target, turn the replication around: the
 * target drops its subscription (and its slot on the source), publishes all tables, and the
 * source subscribes to it (copy_data = false). From then on writes on the target flow back to
 * the source: the way back. Output: none. Undo: the other way round again (the source was
 * read-only meanwhile, so nothing was missed).
 */
import { duration, stepParams } from '../playbook/fields.js';
import { subscriptionName } from '../model/logical.js';
import { createPublicationSql, READ_ONLY_SQL, replicateFromTo, subscribeSql, unsubscribeSql } from './logical.js';
import { sqlText, type StepDefinition } from './types.js';

const schema = stepParams('switch-replication', { timeout: duration('10s') });

export const switchReplicationStep: StepDefinition<typeof schema> = {
  schema,
  pauseBudget: (s) => s.timeout,
  title: (_s, plan) => `replicate ${plan.target.name} -> ${plan.primary.name} (the way back)`,
  actions: (_step, plan) =>
    (plan.upgrade?.databases ?? []).map((db) => ({
      text: [
        sqlText(plan.target.name, `${unsubscribeSql(db)}  (in ${db}; drops its slot on ${plan.primary.name})`),
        sqlText(plan.target.name, `${createPublicationSql}  (if missing)`),
        sqlText(
          plan.primary.name,
          `${subscribeSql(db, plan.upgrade!.conninfo.toTarget[db] ?? '?')}; ${READ_ONLY_SQL}  (already, by the fence)`,
        ),
      ].join('\n'),
      run: async (ctx) => {
        await replicateFromTo(ctx, ctx.target, ctx.primary, db, ctx.upgrade!.conninfo.toTarget[db]!);
        return `${db}: ${ctx.primary.name} subscribes to ${ctx.target.name} (${subscriptionName(db)})`;
      },
    })),
  async undo(_step, ctx) {
    for (const db of ctx.upgrade?.databases ?? [])
      await replicateFromTo(ctx, ctx.primary, ctx.target, db, ctx.upgrade!.conninfo.toPrimary[db]!);
    return `${ctx.target.name} subscribes to ${ctx.primary.name} again`;
  },
};
