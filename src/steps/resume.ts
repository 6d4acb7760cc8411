/**
 * resume — RESUME the paused databases on every pooler; queued clients continue on the new
 * primary. Precondition: repointed. Undo: none.
 * unfence — the explicit undo of fence-writes, for playbooks that want it as a step.
 */
import { formatMs } from '../util/time.js';
import { fenceWritesStep, resumeAll } from './fence-writes.js';
import { afterPromotion } from './promote.js';
import { adminAction, type StepDefinition } from './types.js';

export const resumeStep: StepDefinition<'resume'> = {
  kind: 'resume',
  title: () => 'resume clients',
  describe: (_s, plan) => plan.inventory.poolers.flatMap((p) => p.databases.map((db) => adminAction(p.name, `RESUME ${db}`))),
  async run(_step, ctx) {
    const done = await resumeAll(ctx);
    const pause = ctx.facts.fencedAt !== undefined && ctx.facts.resumedAt !== undefined ? ctx.facts.resumedAt - ctx.facts.fencedAt : undefined;
    const timeline = ctx.facts.promoted ? `; ${await afterPromotion(ctx)}` : '';
    return `${done.join('; ')}${pause === undefined ? '' : `; writes were paused for ${formatMs(pause)}`}${timeline}`;
  },
};

export const unfenceStep: StepDefinition<'unfence'> = {
  kind: 'unfence',
  title: (_s, plan) => `unfence ${plan.primary.name}`,
  describe: (_s, plan) => [`undo fence-writes: start ${plan.primary.name} if stopped, reset read-only, RESUME poolers`],
  run: (_step, ctx) => fenceWritesStep.undo!({ kind: 'fence-writes', method: 'auto', pause_timeout: 5000, stop_timeout: 30000 }, ctx),
};
