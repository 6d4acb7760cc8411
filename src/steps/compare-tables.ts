/**
 * compare-tables — after a major upgrade's cutover: every table has as many rows on both sides.
 * Writes now land on the target and flow back to the source, so the counts are compared until
 * they agree (or the timeout). Output: none. Undo: none.
 */
import { duration, stepParams } from '../playbook/fields.js';
import { sleep } from '../util/time.js';
import { inDatabase } from './logical.js';
import { sqlText, type StepDefinition } from './types.js';

const schema = stepParams('compare-tables', { timeout: duration('30s') });
const TABLES_SQL = `SELECT format('%I.%I', schemaname, relname) AS name FROM pg_stat_user_tables ORDER BY 1`;

async function counts(
  ctx: Parameters<typeof inDatabase>[0],
  node: Parameters<typeof inDatabase>[1],
  db: string,
): Promise<Record<string, number>> {
  return inDatabase(ctx, node, db, async (s) => {
    const tables = (await s.query<{ name: string }>(TABLES_SQL)).map((r) => r.name);
    if (!tables.length) return {};
    const rows = await s.query<{ t: string; n: string }>(
      tables.map((t, i) => `SELECT $${i + 1}::text AS t, count(*)::text AS n FROM ${t}`).join(' UNION ALL '),
      tables,
    );
    return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]));
  });
}

export const compareTablesStep: StepDefinition<typeof schema> = {
  schema,
  title: (_s, plan) => `compare row counts ${plan.target.name} / ${plan.primary.name}`,
  actions: (step, plan) =>
    (plan.upgrade?.databases ?? []).map((db) => ({
      text: `${sqlText(plan.target.name, 'SELECT count(*) FROM <each table>')} and the same on ${plan.primary.name}  (in ${db}; until equal, up to ${step.timeout} ms: writes flow back)`,
      run: async (ctx) => {
        const deadline = performance.now() + step.timeout;
        for (;;) {
          const [target, source] = await Promise.all([counts(ctx, ctx.target, db), counts(ctx, ctx.primary, db)]);
          const differ = [...new Set([...Object.keys(target), ...Object.keys(source)])].filter(
            (t) => target[t] !== source[t],
          );
          if (!differ.length)
            return `${db}: ${Object.keys(target).length} tables, the same row counts on both sides (${Object.values(target).reduce((a, b) => a + b, 0)} rows)`;
          if (performance.now() > deadline) {
            ctx.log.leftToDo.push(
              `${db}: row counts differ between ${ctx.target.name} and ${ctx.primary.name}: ${differ.map((t) => `${t} ${target[t] ?? '-'} / ${source[t] ?? '-'}`).join(', ')}; check the subscription on ${ctx.primary.name} (pg_stat_subscription_stats, its log)`,
            );
            return `${db}: row counts still differ after ${step.timeout} ms`;
          }
          await sleep(200, ctx.signal);
        }
      },
    })),
};
