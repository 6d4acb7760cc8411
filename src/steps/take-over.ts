/**
 * take-over — a major upgrade's point of no return: the target becomes the side clients write to.
 * It is already a primary of its own cluster; if it was fenced read-only by an earlier cutover
 * (the way back), that is undone. Then it must accept writes. Output: none.
 */
import { StepFailedError } from '../errors.js';
import { stepParams } from '../playbook/fields.js';
import { sleep } from '../util/time.js';
import { sqlText, type StepDefinition } from './types.js';
import { RELOAD_SQL, RESET_READ_ONLY_SQL } from '../postgres/sql.js';

const schema = stepParams('take-over', {});
const UNFENCE_SQL = RESET_READ_ONLY_SQL;
const STATE_SQL = "SELECT pg_is_in_recovery() AS in_recovery, current_setting('default_transaction_read_only') AS ro";

export const takeOverStep: StepDefinition<typeof schema> = {
  schema,
  pointOfNoReturn: true,
  title: (_s, plan) => `${plan.target.name} takes the writes`,
  actions: (_step, plan) => [
    {
      text: `${sqlText(plan.target.name, `${UNFENCE_SQL}; ${RELOAD_SQL}`)}  (only if an earlier cutover left it read-only)`,
      noReturn: (ctx) => ({ target: ctx.target.name }),
      run: async (ctx) => {
        const session = await ctx.connections.node(ctx.target.name);
        if ((await session.one<{ ro: string }>(STATE_SQL)).ro === 'on') {
          await session.query(UNFENCE_SQL);
          await session.query(RELOAD_SQL);
        }
      },
    },
    {
      text: sqlText(plan.target.name, STATE_SQL),
      run: async (ctx) => {
        // The reload reaches this session asynchronously: look again for up to a second.
        const deadline = performance.now() + 1000;
        for (;;) {
          const row = await (
            await ctx.connections.node(ctx.target.name)
          ).one<{ in_recovery: boolean; ro: string }>(STATE_SQL);
          if (!row.in_recovery && row.ro === 'off') {
            ctx.noReturn.confirmed = true;
            return `${ctx.target.name} accepts writes`;
          }
          if (performance.now() > deadline)
            throw new StepFailedError(
              `${ctx.target.name} does not accept writes (in recovery: ${row.in_recovery}, default_transaction_read_only: ${row.ro})`,
            );
          await sleep(10);
        }
      },
    },
  ],
};
