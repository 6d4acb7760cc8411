/**
 * unswitch-replication — a half-done major upgrade's undo: the target subscribes to the source
 * again and the source to nothing (what switch-replication's undo does, as a step for a recovery
 * plan). Idempotent. Output: none.
 */
import { stepParams } from '../playbook/fields.js';
import { READ_ONLY_SQL, replicateFromTo, subscribeSql, unsubscribeSql } from './logical.js';
import { sqlText, type StepDefinition } from './types.js';

const schema = stepParams('unswitch-replication', {});

export const unswitchReplicationStep: StepDefinition<typeof schema> = {
  schema,
  title: (_s, plan) => `replicate ${plan.primary.name} -> ${plan.target.name} again`,
  actions: (_step, plan) =>
    (plan.upgrade?.databases ?? []).map((db) => ({
      text: `${sqlText(plan.primary.name, unsubscribeSql(db))}\n${sqlText(plan.target.name, `${subscribeSql(db, plan.upgrade!.conninfo.toPrimary[db] ?? '?')}  (if missing); ${READ_ONLY_SQL}; SELECT pg_reload_conf()`)}`,
      run: async (ctx) => {
        await replicateFromTo(ctx, ctx.primary, ctx.target, db, ctx.upgrade!.conninfo.toPrimary[db]!);
        return `${db}: ${ctx.target.name} subscribes to ${ctx.primary.name}`;
      },
    })),
};
