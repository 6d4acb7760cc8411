/** Rejoin: a former primary (or a diverged replica) becomes a replica of the current primary, with pg_rewind when needed. */
import type { Report } from '../../runner/report.js';
import type { PlaybookRules } from '../../playbook/rules.js';
import { builtInPlaybook } from '../../util/package-root.js';
import type { Procedure } from '../types.js';
import { decideRejoin } from './decide.js';

const HEADLINE: Record<Report['outcome'], string> = {
  degraded: 'REJOINED, DEGRADED: some nodes need attention (LEFT TO DO)',
  succeeded: 'REJOINED',
  refused: 'REFUSED: nothing was changed',
  'rolled-back': 'FAILED: nothing was changed',
  interrupted: 'INTERRUPTED: nothing was changed',
  'failed-after-promotion': 'REJOIN FAILED after the node was stopped: operator action needed',
  'undo-failed': 'REJOIN FAILED: operator action needed',
};

const rules: PlaybookRules = (playbook) => {
  const steps = playbook.steps.map((s) => s.kind);
  const problems = [];
  if (steps.filter((k) => k === 'rejoin').length !== 1)
    problems.push({ path: ['steps'], message: 'expected exactly one rejoin step' });
  const other = steps.findIndex((k) => !['rejoin', 'sql', 'exec'].includes(k));
  if (other >= 0)
    problems.push({
      path: ['steps', other, 'kind'],
      message: `${steps[other]} does not belong in a rejoin playbook (rejoin, sql, exec)`,
    });
  return problems;
};

export const rejoin: Procedure = {
  name: 'rejoin',
  get defaultPlaybook() {
    return builtInPlaybook('rejoin');
  },
  rules,
  decide: (state, _playbook, input) => decideRejoin(state, input),
  // Each step is idempotent: a second run continues where the first stopped.
  halfDone: () => undefined,
  unconfirmed: (ctx) => [
    `${ctx.primary.name} was stopped${ctx.outputs.rejoin.how ? ` (${ctx.outputs.rejoin.how})` : ''} but does not stream from ${ctx.target.name} yet: see the error above, then run the same rejoin again`,
  ],
  question: (plan) =>
    `Stop ${plan.context.primary.name} if it runs and make it a replica of ${plan.context.target.name} (pg_rewind if it diverged)?`,
  headline: (report) =>
    report.outcome === 'succeeded'
      ? `REJOINED: ${report.oldPrimary} is a replica of ${report.target}`
      : HEADLINE[report.outcome],
};
