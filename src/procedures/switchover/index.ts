/** The planned switchover: fence the primary, promote a caught-up replica, repoint, resume. */
import type { Report } from '../../runner/report.js';
import { stillHeld } from '../../steps/outputs.js';
import { builtInPlaybook } from '../../util/package-root.js';
import type { Procedure } from '../types.js';
import { decideSwitchover } from './decide.js';
import { detectRecovery } from './half-done.js';
import { recoveryPlan } from './recovery-plan.js';
import { switchoverRules } from './rules.js';

const HEADLINE: Record<Report['outcome'], string> = {
  degraded: 'SWITCHOVER DONE, DEGRADED: the new primary serves and is verified; some nodes need attention (LEFT TO DO)',
  succeeded: 'SWITCHOVER SUCCEEDED',
  refused: 'REFUSED: nothing was changed',
  'rolled-back': 'FAILED AND ROLLED BACK: the old primary is still the primary',
  interrupted: 'INTERRUPTED AND ROLLED BACK: the old primary is still the primary',
  'failed-after-promotion': 'FAILED AFTER THE POINT OF NO RETURN: operator action needed',
  'undo-failed': 'COULD NOT UNDO the half-done switchover: operator action needed',
};

export const switchover: Procedure = {
  name: 'switchover',
  get defaultPlaybook() {
    return builtInPlaybook('switchover');
  },
  rules: switchoverRules,
  decide: decideSwitchover,
  halfDone(state, playbook, unfinished) {
    const recovery = detectRecovery(state, unfinished);
    if (!recovery || recovery.kind === 'stuck') return recovery;
    const action =
      recovery.kind === 'finish'
        ? `finish it: ${recovery.newPrimary} stays the primary`
        : `undo it: ${recovery.oldPrimary} stays the primary`;
    const planned = recoveryPlan(recovery, state, playbook, unfinished);
    return {
      kind: recovery.kind === 'finish' ? 'finish' : 'undo',
      reason: `${recovery.reason}; this run will ${action}`,
      ...planned,
    };
  },
  unconfirmed(ctx) {
    const paused = [...stillHeld(ctx.outputs)];
    return [
      `promotion of ${ctx.target.name} was requested but not confirmed; check it: SELECT pg_is_in_recovery() on ${ctx.target.name}`,
      `${ctx.primary.name} is ${ctx.outputs['fence-writes'].stopped ? 'stopped (cleanly)' : ctx.outputs['fence-writes'].readOnly ? 'fenced read-only' : 'fenced'}: it is not accepting writes, so there is at most one primary`,
      paused.length
        ? `clients are queued on ${paused.join(', ')} (paused, pointing at ${ctx.primary.name}); once ${ctx.target.name} is a primary, run the same promote command again to finish, or repoint and RESUME by hand`
        : 'no pooler is paused',
    ];
  },
  question: (plan) => `Promote ${plan.context.target.name} and fence ${plan.context.primary.name}?`,
  headline(report) {
    if (report.mode === 'undo' && report.outcome === 'rolled-back')
      return 'UNDID THE HALF-DONE SWITCHOVER: the old primary is the primary again';
    if (report.mode !== 'undo' && report.outcome === 'undo-failed')
      return 'FAILED, AND THE ROLLBACK DID NOT RESTORE SERVICE: operator action needed';
    return HEADLINE[report.outcome];
  },
};
