/**
 * unfence — the undo of fence-writes as a step of its own, for undoing a half-done run: it acts
 * on the fence's output (seeded from the observed cluster). Undo: none.
 */
import { stepParams } from '../playbook/fields.js';
import { FENCE_MODES } from './fence-modes.js';
import { undoFence } from './fence-undo.js';
import type { FenceOutput } from './outputs.js';
import type { StepDefinition } from './types.js';

const schema = stepParams('unfence', {});

export const unfenceStep: StepDefinition<typeof schema, FenceOutput> = {
  schema,
  outputOf: 'fence-writes',
  title: (_s, plan) => `unfence ${plan.primary.name}`,
  actions: (_s, plan) => [
    {
      text: FENCE_MODES[plan.fenceMethod].failover
        ? `undo the failover's fence: RESUME poolers (nothing was promoted; ${plan.primary.name} is still the only primary)`
        : `undo fence-writes: start ${plan.primary.name} if stopped, reset read-only, prove it accepts writes, RESUME poolers`,
      run: (ctx, out) => undoFence(ctx, out),
    },
  ],
};
