/**
 * sql — runs a statement on a node named by role (primary/old-primary, target/new-primary) or by
 * name, e.g. to record a maintenance marker. Undo: none (write an explicit step for that).
 */
import { z } from 'zod';
import type { NodeSpec } from '../inventory/model.js';
import { duration, nodeRef, stepParams } from '../playbook/fields.js';
import { sqlText, type PlanContext, type StepDefinition } from './types.js';

const schema = stepParams('sql', {
  node: nodeRef,
  sql: z.string().min(1, { error: 'expected SQL text' }),
  timeout: duration('30s'),
});

export function resolveNode(ref: string, plan: PlanContext): NodeSpec {
  if (ref === 'primary' || ref === 'old-primary') return plan.primary;
  if (ref === 'target' || ref === 'new-primary') return plan.target;
  const node = plan.inventory.nodes.find((n) => n.name === ref);
  if (!node) throw new Error(`unknown node ${ref}`);
  return node;
}

export const sqlStep: StepDefinition<typeof schema> = {
  schema,
  title: (s, plan) => s.name ?? `SQL on ${resolveNode(s.node, plan).name}`,
  actions: (step, plan) => {
    const node = resolveNode(step.node, plan);
    return [
      {
        text: sqlText(node.name, step.sql),
        run: async (ctx) => {
          const rows = await (await ctx.connections.node(node.name)).query(step.sql, [], step.timeout);
          return `${node.name}: ${rows.length} row(s)`;
        },
      },
    ];
  },
};
