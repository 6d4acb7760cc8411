/** A rolling restart's playbook: a switchover's, with the replicas restarted before the fence. Pure. */
import type { PlaybookRules } from '../../playbook/rules.js';
import { switchoverRules } from '../switchover/rules.js';

export const rollingRestartRules: PlaybookRules = (playbook) => {
  const problems = [...switchoverRules(playbook)];
  const at = playbook.steps.flatMap((s, i) => (s.kind === 'restart-replicas' ? [i] : []));
  const fence = playbook.steps.findIndex((s) => s.kind === 'fence-writes');
  if (at.length !== 1)
    problems.push({ path: ['steps'], message: `expected exactly one restart-replicas step, found ${at.length}` });
  else if (fence >= 0 && at[0]! > fence) {
    problems.push({
      path: ['steps', at[0]!, 'kind'],
      message:
        'restart-replicas must come before fence-writes (the switchover goes to a replica already on the new binaries)',
    });
  }
  if (!playbook.steps.some((s) => s.kind === 'demote-old-primary')) {
    problems.push({
      path: ['steps'],
      message: 'a demote-old-primary step is required (it restarts the old primary on the new binaries)',
    });
  }
  return problems;
};
