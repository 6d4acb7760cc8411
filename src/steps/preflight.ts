/**
 * preflight — observes the cluster again right before acting and runs every read-only check.
 * Precondition: none. Effect: none. Undo: nothing to undo.
 */
import { observeCluster } from '../cluster/observe.js';
import { nodeState } from '../model/cluster-state.js';
import { failures } from '../decide/checks.js';
import { limitsFrom } from '../decide/limits.js';
import { preflight } from '../decide/preflight.js';
import { PreflightRefusedError } from '../errors.js';
import type { NodeObservation } from '../model/node.js';
import { routerChecks } from '../routers/registry.js';
import type { StepDefinition } from './types.js';

export const preflightStep: StepDefinition<'preflight'> = {
  kind: 'preflight',
  title: () => 'preflight checks',
  describe: (_step, plan) => [`observe ${plan.inventory.nodes.length} nodes and ${plan.inventory.poolers.length} pooler(s) again; refuse if any check fails`],
  async run(step, ctx) {
    const state = await observeCluster(ctx.connections);
    const reachable = (name: string) => {
      const node = nodeState(state, name);
      return node?.reachable ? (node as NodeObservation) : undefined;
    };
    const checks = preflight({
      state, limits: limitsFrom(step), primary: reachable(ctx.primary.name), target: reachable(ctx.target.name), targetName: ctx.target.name, routerChecks,
    });
    ctx.record('checks', { checks });
    const failed = failures(checks);
    if (failed.length > 0) {
      throw new PreflightRefusedError(`preflight refused: ${failed.map((c) => `${c.id}: ${c.message}`).join('; ')}`);
    }
    const warnings = checks.filter((c) => c.verdict === 'warn').length;
    return `${checks.length} checks, ${warnings} warning(s)`;
  },
};
