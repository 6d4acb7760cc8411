/** The failover: the primary is dead or hung; fence it, promote the most advanced replica, repoint, resume. */
import { describeLoss } from '../../model/incident.js';
import type { Report } from '../../runner/report.js';
import { stillHeld } from '../../steps/outputs.js';
import { builtInPlaybook } from '../../util/package-root.js';
import type { Procedure } from '../types.js';
import { failoverOptions, type FailoverOptions } from './options.js';
import { failoverReport } from './report.js';
import { decideFailover, detectionOf } from './decide.js';
import { failoverHalfDone } from './half-done.js';
import { failoverRules } from './rules.js';

const HEADLINE: Record<Report['outcome'], string> = {
  degraded: 'FAILOVER DONE, DEGRADED: the new primary serves and is verified; some nodes need attention (LEFT TO DO)',
  succeeded: 'FAILOVER SUCCEEDED',
  refused: 'REFUSED: nothing was changed',
  'rolled-back': 'FAILED BEFORE PROMOTION: nothing was promoted, the poolers were released',
  interrupted: 'INTERRUPTED BEFORE PROMOTION: nothing was promoted, the poolers were released',
  'failed-after-promotion': 'FAILED AFTER THE POINT OF NO RETURN: operator action needed',
  'undo-failed': 'COULD NOT RELEASE THE POOLERS after stopping: operator action needed',
};

export const failover: Procedure<FailoverOptions> = {
  name: 'failover',
  get defaultPlaybook() {
    return builtInPlaybook('failover');
  },
  rules: failoverRules,
  decide: (state, playbook, input) => decideFailover(state, playbook, input),
  options: failoverOptions,
  reportSection: failoverReport,
  halfDone: failoverHalfDone,
  // The witnesses are asked within the same detection timeout, side by side with the tool's own probe.
  observeLimits: (playbook) => ({
    timeoutMs: detectionOf(playbook).timeoutMs,
    attempts: 1,
    witnessMs: detectionOf(playbook).timeoutMs,
  }),
  unconfirmed(ctx) {
    const paused = [...stillHeld(ctx.outputs)];
    return [
      `promotion of ${ctx.target.name} was requested but not confirmed; check it: SELECT pg_is_in_recovery() on ${ctx.target.name}`,
      paused.length
        ? `clients are held on ${paused.join(', ')}; once ${ctx.target.name} is a primary, run the same failover command again to finish, or repoint and RESUME by hand`
        : 'no pooler is held',
    ];
  },
  question: (plan) =>
    `Fail over to ${plan.context.target.name} (${plan.context.primary.name} is ${plan.context.incident?.silence === 'timeout' ? 'hung' : 'down'}; ${plan.context.incident ? describeLoss(plan.context.incident.loss) : 'loss unknown'})?`,
  headline(report) {
    if (report.mode === 'undo' && report.outcome === 'rolled-back')
      return 'RELEASED THE POOLERS OF A HALF-DONE FAILOVER: nothing was promoted';
    return HEADLINE[report.outcome];
  },
  afterwards(report) {
    return report.outcome === 'succeeded' ||
      report.outcome === 'degraded' ||
      report.outcome === 'failed-after-promotion'
      ? [
          `${report.oldPrimary} is fenced (the poolers no longer send clients to it); when it is back, make it a replica: pg-handover rejoin -i <inventory> ${report.oldPrimary}`,
        ]
      : [];
  },
};
