/** The ordering a switchover playbook must follow, checked after its shape. Pure. */
import type { PlaybookRules, RuleProblem } from '../../playbook/rules.js';
import type { StepKind } from '../../playbook/schema.js';

export const switchoverRules: PlaybookRules = (playbook) => {
  const problems: RuleProblem[] = [];
  const indexes = (kind: StepKind) => playbook.steps.flatMap((s, i) => (s.kind === kind ? [i] : []));
  const first = (kind: StepKind) => indexes(kind)[0];
  if (playbook.steps[0]?.kind !== 'preflight')
    problems.push({ path: ['steps', 0, 'kind'], message: 'the first step must be preflight' });
  const promotes = indexes('promote');
  if (promotes.length !== 1) {
    problems.push({ path: ['steps'], message: `expected exactly one promote step, found ${promotes.length}` });
    return problems;
  }
  const promote = promotes[0]!;
  const requireBefore = (kind: StepKind, why: string) => {
    const at = first(kind);
    if (at === undefined)
      problems.push({ path: ['steps'], message: `a ${kind} step is required before promote (${why})` });
    else if (at > promote)
      problems.push({ path: ['steps', at, 'kind'], message: `${kind} must come before promote (${why})` });
  };
  const requireAfter = (kind: StepKind, why: string) => {
    const at = first(kind);
    if (at === undefined)
      problems.push({ path: ['steps'], message: `a ${kind} step is required after promote (${why})` });
    else if (at < promote)
      problems.push({ path: ['steps', at, 'kind'], message: `${kind} must come after promote (${why})` });
  };
  requireBefore('fence-writes', 'two writable primaries otherwise');
  requireBefore('wait-catchup', 'acknowledged commits could be lost otherwise');
  requireAfter('repoint-pooler', 'clients would stay on the old primary');
  const demote = first('demote-old-primary');
  if (demote !== undefined && demote < promote) {
    problems.push({
      path: ['steps', demote, 'kind'],
      message: 'demote-old-primary must come after promote (it restarts the old primary as a replica of the new one)',
    });
  }
  requireAfter('resume', 'clients would stay paused');
  const sync = first('sync-standbys');
  if (sync !== undefined && sync < promote) {
    problems.push({
      path: ['steps', sync, 'kind'],
      message: 'sync-standbys must come after promote (it sets synchronous_standby_names on the new primary)',
    });
  }
  const fence = first('fence-writes');
  const catchup = first('wait-catchup');
  if (fence !== undefined && catchup !== undefined && catchup < fence) {
    problems.push({
      path: ['steps', catchup, 'kind'],
      message: 'wait-catchup must come after fence-writes (the final position is known only once writes stop)',
    });
  }
  const repoint = first('repoint-pooler');
  const resume = first('resume');
  if (repoint !== undefined && resume !== undefined && resume < repoint) {
    problems.push({
      path: ['steps', resume, 'kind'],
      message: 'resume must come after repoint-pooler (clients would reach the old primary)',
    });
  }
  for (const kind of ['confirm-failure', 'fence-old-primary'] as const) {
    const at = first(kind);
    if (at !== undefined)
      problems.push({
        path: ['steps', at, 'kind'],
        message: `${kind} belongs to a failover playbook; a switchover fences with fence-writes`,
      });
  }
  for (const kind of ['fence-writes', 'repoint-pooler', 'resume'] as const) {
    const extra = indexes(kind)[1];
    if (extra !== undefined) problems.push({ path: ['steps', extra, 'kind'], message: `${kind} may appear only once` });
  }
  playbook.steps.forEach((step, i) => {
    if (step.kind === 'sql' && step.node === 'old-primary' && i > promote) {
      problems.push({
        path: ['steps', i, 'node'],
        message: 'old-primary is not writable after promote; run it before promote or on new-primary',
      });
    }
  });
  return problems;
};
