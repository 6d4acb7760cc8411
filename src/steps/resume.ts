/**
 * resume — RESUME the paused databases on every pooler; queued clients continue on the new
 * primary. Precondition: repointed. Undo: none.
 * unfence — the explicit undo of fence-writes, for playbooks that want it as a step.
 */
import { StepFailedError } from '../errors.js';
import { formatMs } from '../util/time.js';
import { fenceWritesStep, resumeAll } from './fence-writes.js';
import { afterPromotion } from './promote.js';
import { routerKind } from '../routers/registry.js';
import type { StepDefinition } from './types.js';

export const resumeStep: StepDefinition<'resume'> = {
  kind: 'resume',
  title: () => 'resume clients',
  describe: (_s, plan) => plan.inventory.poolers.flatMap((p) => routerKind(p.kind).describe.release(p)),
  async run(_step, ctx) {
    // After promotion, a pooler still pointing at the old primary must not let clients through:
    // they would reach a stopped or read-only server. It stays paused and the report says so.
    const stuck = ctx.facts.promoted ? ctx.inventory.poolers.filter((p) => ctx.facts.pausedPoolers.has(p.name) && !ctx.facts.repointed.has(p.name)) : [];
    const done = await resumeAll(ctx, ctx.facts.promoted ? ctx.facts.repointed : undefined);
    const timeline = ctx.facts.promoted ? `; ${await afterPromotion(ctx)}` : '';
    if (stuck.length) {
      for (const p of stuck) {
        ctx.facts.leftToDo.push(`${p.name} is still PAUSED and points at ${ctx.primary.name}: it could not be repointed to ${ctx.target.name}; fix that (see the error above), then run the same command again to finish, or repoint it and RESUME ${p.routes.join(', ')} by hand`);
      }
      throw new StepFailedError(`kept ${stuck.map((p) => p.name).join(', ')} paused: not repointed to ${ctx.target.name}${done.length ? `; resumed ${done.join('; ')}` : ''}`);
    }
    const pause = ctx.facts.fencedAt !== undefined && ctx.facts.resumedAt !== undefined ? ctx.facts.resumedAt - ctx.facts.fencedAt : undefined;
    return `${done.join('; ')}${pause === undefined ? '' : `; writes were paused for ${formatMs(pause)}`}${timeline}`;
  },
};

export const unfenceStep: StepDefinition<'unfence'> = {
  kind: 'unfence',
  title: (_s, plan) => `unfence ${plan.primary.name}`,
  describe: (_s, plan) => [`undo fence-writes: start ${plan.primary.name} if stopped, reset read-only, RESUME poolers`],
  run: (_step, ctx) => fenceWritesStep.undo!({ kind: 'fence-writes', method: 'auto', pause_timeout: 5000, stop_timeout: 30000 }, ctx),
};
