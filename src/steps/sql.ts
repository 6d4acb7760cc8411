/**
 * sql — runs a statement on a node named by role (primary/old-primary, target/new-primary) or by
 * name, e.g. to record a maintenance marker. Undo: none (write an explicit step for that).
 */
import type { NodeSpec } from '../inventory/model.js';
import { sqlAction, type PlanContext, type StepDefinition } from './types.js';

export function resolveNode(ref: string, plan: PlanContext): NodeSpec {
  if (ref === 'primary' || ref === 'old-primary') return plan.primary;
  if (ref === 'target' || ref === 'new-primary') return plan.target;
  const node = plan.inventory.nodes.find((n) => n.name === ref);
  if (!node) throw new Error(`unknown node ${ref}`);
  return node;
}

export const sqlStep: StepDefinition<'sql'> = {
  kind: 'sql',
  title: (s, plan) => s.name ?? `SQL on ${resolveNode(s.node, plan).name}`,
  describe: (s, plan) => [sqlAction(resolveNode(s.node, plan).name, s.sql)],
  async run(step, ctx) {
    const node = resolveNode(step.node, ctx);
    const session = await ctx.connections.node(node.name);
    const rows = await session.query(step.sql, [], step.timeout);
    return `${node.name}: ${rows.length} row(s)`;
  },
};
