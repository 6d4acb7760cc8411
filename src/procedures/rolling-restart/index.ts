/**
 * The rolling restart (a minor upgrade, an OS patch): every replica restarted on the new binaries,
 * one at a time; then the planned switchover to one of them; then the old primary restarted as a
 * replica on the new binaries. The primary is never restarted under its clients.
 */
import { versionText } from '../../model/node.js';
import type { Report } from '../../runner/report.js';
import { builtInPlaybook } from '../../util/package-root.js';
import { switchover } from '../switchover/index.js';
import type { Procedure } from '../types.js';
import { rollingRestartOptions, type RollingRestartOptions } from './options.js';
import { decideRollingRestart } from './decide.js';
import { rollingRestartRules } from './rules.js';

const HEADLINE: Partial<Record<Report['outcome'], string>> = {
  degraded: 'ROLLING RESTART DONE, DEGRADED: some nodes still need attention (LEFT TO DO)',
  succeeded: 'ROLLING RESTART SUCCEEDED',
  'rolled-back': 'FAILED AND STOPPED: the primary is untouched (replicas already restarted stay on the new binaries)',
};

export const rollingRestart: Procedure<RollingRestartOptions> = {
  ...switchover,
  options: rollingRestartOptions,
  observeNeeds: (options) => ({ binDir: options?.binDir }),
  name: 'rolling-restart',
  get defaultPlaybook() {
    return builtInPlaybook('rolling-restart');
  },
  rules: rollingRestartRules,
  decide: decideRollingRestart,
  question: (plan) => {
    const { rolling, primary, target } = plan.context;
    const on = rolling ? ` on ${versionText(rolling.versionNum)}` : '';
    const first = rolling?.restart.length ? `Restart ${rolling.restart.join(', ')}${on}, then switch` : 'Switch';
    return `${first} over from ${primary.name} to ${target.name} and restart ${primary.name} as its replica${on}?`;
  },
  headline: (report) =>
    report.mode === 'undo' ? switchover.headline(report) : (HEADLINE[report.outcome] ?? switchover.headline(report)),
};
