/** The ordering a failover playbook must follow, checked after its shape. Pure. */
import type { PlaybookRules, RuleProblem } from '../../playbook/rules.js';
import type { StepKind } from '../../playbook/schema.js';

/** Steps that act on a running old primary: a failover's is dead or hung. */
const PLANNED_ONLY: readonly StepKind[] = [
  'preflight',
  'checkpoint',
  'check-lag',
  'fence-writes',
  'unfence',
  'demote-old-primary',
];

export const failoverRules: PlaybookRules = (playbook) => {
  const problems: RuleProblem[] = [];
  const indexes = (kind: StepKind) => playbook.steps.flatMap((s, i) => (s.kind === kind ? [i] : []));
  const first = (kind: StepKind) => indexes(kind)[0];
  if (playbook.steps[0]?.kind !== 'confirm-failure')
    problems.push({ path: ['steps', 0, 'kind'], message: 'the first step of a failover must be confirm-failure' });
  for (const kind of PLANNED_ONLY) {
    const at = first(kind);
    if (at !== undefined)
      problems.push({
        path: ['steps', at, 'kind'],
        message: `${kind} acts on a running old primary; a failover's is down or hung`,
      });
  }
  const promotes = indexes('promote');
  if (promotes.length !== 1) {
    problems.push({ path: ['steps'], message: `expected exactly one promote step, found ${promotes.length}` });
    return problems;
  }
  const promote = promotes[0]!;
  const order = (kind: StepKind, before: boolean, why: string) => {
    const at = first(kind);
    const where = before ? 'before' : 'after';
    if (at === undefined)
      problems.push({ path: ['steps'], message: `a ${kind} step is required ${where} promote (${why})` });
    else if (before ? at > promote : at < promote)
      problems.push({ path: ['steps', at, 'kind'], message: `${kind} must come ${where} promote (${why})` });
  };
  order('fence-old-primary', true, 'clients could reach the old primary if it comes back');
  order('wait-catchup', true, 'the new primary must replay all it received first');
  order('repoint-pooler', false, 'clients would stay on the old primary');
  order('resume', false, 'clients would stay paused');
  const fence = first('fence-old-primary');
  const catchup = first('wait-catchup');
  if (fence !== undefined && catchup !== undefined && catchup < fence) {
    problems.push({
      path: ['steps', catchup, 'kind'],
      message: 'wait-catchup must come after fence-old-primary (which reads the position to replay)',
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
  playbook.steps.forEach((step, i) => {
    if (step.kind === 'sql' && (step.node === 'old-primary' || step.node === 'primary')) {
      problems.push({
        path: ['steps', i, 'node'],
        message: 'the old primary is down or hung in a failover; run SQL on new-primary or a replica',
      });
    }
  });
  return problems;
};
