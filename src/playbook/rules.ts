/** Rules every playbook follows, whatever its procedure. Pure; returns problems as data. */
import type { Playbook } from './schema.js';

export interface RuleProblem {
  readonly path: Array<string | number>;
  readonly message: string;
}

export type PlaybookRules = (playbook: Playbook, nodeNames?: readonly string[]) => RuleProblem[];

const NODE_ALIASES = new Set(['primary', 'target', 'old-primary', 'new-primary']);

export const commonRules: PlaybookRules = (playbook, nodeNames) => {
  const problems: RuleProblem[] = [];
  if (playbook.steps[0]?.kind !== 'preflight') problems.push({ path: ['steps', 0, 'kind'], message: 'the first step must be preflight' });
  const extra = playbook.steps.findIndex((s, i) => i > 0 && s.kind === 'preflight');
  if (extra > 0) problems.push({ path: ['steps', extra, 'kind'], message: 'preflight may appear only once' });
  playbook.steps.forEach((step, i) => {
    if (step.kind === 'sql' && !NODE_ALIASES.has(step.node) && nodeNames && !nodeNames.includes(step.node)) {
      problems.push({ path: ['steps', i, 'node'], message: `unknown node "${step.node}"; expected primary, target, old-primary, new-primary or one of ${nodeNames.join(', ')}` });
    }
  });
  return problems;
};
