/**
 * preflight — observes the cluster again right before acting and runs every read-only check.
 * Precondition: none. Effect: none. Undo: nothing to undo.
 */
import { z } from 'zod';
import { failures } from '../decide/checks.js';
import { limitsFrom } from '../decide/limits.js';
import { forPlatformSwitchover } from '../decide/managed.js';
import { preflight } from '../decide/preflight.js';
import { PreflightRefusedError } from '../errors.js';
import { nodeState } from '../model/cluster-state.js';
import { bytes, duration, stepParams } from '../playbook/fields.js';
import { routerChecks } from '../routers/registry.js';
import type { StepDefinition } from './types.js';

const schema = stepParams('preflight', {
  max_lag_bytes: bytes.default(16 * 1024 * 1024),
  max_lag_seconds: z
    .number({ error: 'expected a number of seconds' })
    .min(0, { error: 'expected 0 or more seconds' })
    .default(10),
  max_transaction_age: duration('30s'),
  allow_logical_slots: z.boolean({ error: 'expected true or false' }).default(false),
});

export const preflightStep: StepDefinition<typeof schema> = {
  schema,
  title: () => 'preflight checks',
  actions: (step, plan) => [
    {
      text: `observe ${plan.inventory.nodes.length} nodes and ${plan.inventory.poolers.length} pooler(s) again; refuse if any check fails`,
      run: async (ctx) => {
        const state = await ctx.connections.observe();
        const reachable = (name: string) => {
          const node = nodeState(state, name);
          return node?.reachable ? node : undefined;
        };
        const all = preflight({
          state,
          limits: limitsFrom(step),
          primary: reachable(ctx.primary.name),
          target: reachable(ctx.target.name),
          targetName: ctx.target.name,
          routerChecks,
        });
        const checks = ctx.fenceMethod === 'platform' ? forPlatformSwitchover(all) : all;
        ctx.record('checks', { checks });
        const failed = failures(checks);
        if (failed.length > 0) {
          throw new PreflightRefusedError(
            `preflight refused: ${failed.map((c) => `${c.id}: ${c.message}`).join('; ')}`,
          );
        }
        const warnings = checks.filter((c) => c.verdict === 'warn').length;
        return `${checks.length} checks, ${warnings} warning(s)`;
      },
    },
  ],
};
