/** The ordering an upgrade-major playbook must follow. Pure. */
import type { PlaybookRules, RuleProblem } from '../../playbook/rules.js';
import type { StepKind } from '../../playbook/schema.js';

/** In this order: each is what makes the next safe. */
const REQUIRED: ReadonlyArray<readonly [StepKind, string]> = [
  ['fence-writes', 'the source must stop taking writes first'],
  ['logical-catchup', 'acknowledged commits could be lost otherwise'],
  ['copy-sequences', 'the target would hand out ids the source already used'],
  ['switch-replication', 'writes on the target would not flow back: no way back'],
  ['take-over', 'the point of no return: the target takes the writes'],
  ['repoint-pooler', 'clients would stay on the source'],
  ['resume', 'clients would stay paused'],
];
/** Physical-replication steps have no meaning between two clusters. */
const FOREIGN: readonly StepKind[] = [
  'promote',
  'wait-catchup',
  'follow',
  'demote-old-primary',
  'restart-replicas',
  'rejoin',
  'confirm-failure',
  'fence-old-primary',
  'checkpoint',
  'check-lag',
  'sync-standbys',
  'preflight',
];

export const upgradeMajorRules: PlaybookRules = (playbook) => {
  const problems: RuleProblem[] = [];
  let last = -1;
  for (const [kind, why] of REQUIRED) {
    const at = playbook.steps.findIndex((s) => s.kind === kind);
    if (at < 0) problems.push({ path: ['steps'], message: `a ${kind} step is required (${why})` });
    else if (at < last)
      problems.push({
        path: ['steps', at, 'kind'],
        message: `${kind} must come after ${REQUIRED.find(([k]) => playbook.steps.findIndex((s) => s.kind === k) === last)?.[0]} (${why})`,
      });
    else last = at;
  }
  playbook.steps.forEach((s, i) => {
    if (FOREIGN.includes(s.kind))
      problems.push({
        path: ['steps', i, 'kind'],
        message: `${s.kind} is a physical-replication step: not part of a major upgrade by logical replication`,
      });
  });
  return problems;
};
