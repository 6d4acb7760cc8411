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
  // Each procedure's rules say which read-only check comes first; here: only ever once, and first.
  const extra = playbook.steps.findIndex((s, i) => i > 0 && (s.kind === 'preflight' || s.kind === 'confirm-failure'));
  if (extra > 0)
    problems.push({
      path: ['steps', extra, 'kind'],
      message: `${playbook.steps[extra]!.kind} may appear only once, as the first step`,
    });
  playbook.steps.forEach((step, i) => {
    if (step.kind === 'sql' && !NODE_ALIASES.has(step.node) && nodeNames && !nodeNames.includes(step.node)) {
      problems.push({
        path: ['steps', i, 'node'],
        message: `unknown node "${step.node}"; expected primary, target, old-primary, new-primary or one of ${nodeNames.join(', ')}`,
      });
    }
  });
  return problems;
};
