/**
 * copy-sequences — logical replication does not carry sequences: each one's value on the source
 * (read after the fence, so final) is set on the target with setval, keeping is_called, plus an
 * optional margin. Output: none. Undo: nothing to undo (the target serves no one yet).
 */
import { z } from 'zod';
import { stepParams } from '../playbook/fields.js';
import { inDatabase } from './logical.js';
import { sqlText, type StepDefinition } from './types.js';

const schema = stepParams('copy-sequences', {
  /** Added to every value: room for writes the source might still make (none after a clean fence). */
  margin: z.int({ error: 'expected a whole number' }).min(0, { error: 'expected 0 or more' }).default(0),
});

export const copySequencesStep: StepDefinition<typeof schema> = {
  schema,
  pauseBudget: () => 2000,
  title: (_s, plan) => `copy sequence values ${plan.primary.name} -> ${plan.target.name}`,
  actions: (step, plan) =>
    (plan.upgrade?.databases ?? []).map((db) => {
      const sequences = plan.upgrade?.sequences[db] ?? [];
      return {
        text: sequences.length
          ? `${sqlText(plan.primary.name, `SELECT last_value, is_called FROM <each of ${sequences.join(', ')}>`)}  (in ${db})\n${sqlText(plan.target.name, `SELECT setval(<sequence>, last_value${step.margin ? ` + ${step.margin}` : ''}, is_called${step.margin ? ' or true' : ''})`)}`
          : `${db}: no sequences`,
        run: sequences.length
          ? async (ctx) => {
              const values = await inDatabase(ctx, ctx.primary, db, async (s) =>
                Promise.all(
                  sequences.map(async (name) => ({
                    name,
                    ...(await s.one<{ last_value: string; is_called: boolean }>(
                      `SELECT last_value::text, is_called FROM ${name}`,
                    )),
                  })),
                ),
              );
              await inDatabase(ctx, ctx.target, db, async (s) => {
                for (const v of values)
                  await s.query('SELECT setval($1::regclass, $2::bigint + $3, $4)', [
                    v.name,
                    v.last_value,
                    step.margin,
                    v.is_called || step.margin > 0,
                  ]);
              });
              return `${db}: ${values.length} sequence(s) set on ${ctx.target.name}`;
            }
          : undefined,
      };
    }),
};
