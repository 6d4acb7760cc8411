/**
 * A major-version upgrade by promoting a logical replica on the new version (after
 * `prepare-upgrade`): hold the routers, fence the source read-only (it stays the way back), wait
 * until the subscription has applied its final position, copy the sequences, turn the
 * replication around, then the target takes the writes and clients move. `--back` is the same
 * cutover the other way.
 */
import { BadInputError } from '../../errors.js';
import type { Inventory } from '../../inventory/model.js';
import type { Report } from '../../runner/report.js';
import { stillHeld } from '../../steps/outputs.js';
import { builtInPlaybook } from '../../util/package-root.js';
import type { Procedure } from '../types.js';
import { upgradeMajorOptions, type UpgradeMajorOptions } from './options.js';
import { decideUpgradeMajor } from './decide.js';
import { upgradeHalfDone } from './half-done.js';
import { upgradeMajorRules } from './rules.js';

const HEADLINE: Record<Report['outcome'], string> = {
  degraded: 'UPGRADE DONE, DEGRADED: the new version serves; some nodes need attention (LEFT TO DO)',
  succeeded: 'UPGRADE CUTOVER SUCCEEDED',
  refused: 'REFUSED: nothing was changed',
  'rolled-back': 'FAILED AND ROLLED BACK: the source serves writes again, the target subscribes to it',
  interrupted: 'INTERRUPTED AND ROLLED BACK: the source serves writes again, the target subscribes to it',
  'failed-after-promotion': 'FAILED AFTER THE POINT OF NO RETURN: operator action needed',
  'undo-failed': 'COULD NOT UNDO the half-done cutover: operator action needed',
};

/** The file's nodes and the upgrade target's: the run holds sessions to, locks and judges both sides. */
function inventoryForRun(inventory: Inventory): Inventory {
  if (!inventory.upgradeTarget)
    throw new BadInputError(
      `${inventory.file}: expected an upgrade_target section (the new version's nodes) for upgrade-major`,
      'upgrade_target',
    );
  return { ...inventory, nodes: [...inventory.nodes, ...inventory.upgradeTarget.nodes] };
}

export const upgradeMajor: Procedure<UpgradeMajorOptions> = {
  name: 'upgrade-major',
  get defaultPlaybook() {
    return builtInPlaybook('upgrade-major');
  },
  rules: upgradeMajorRules,
  decide: decideUpgradeMajor,
  inventoryForRun,
  options: upgradeMajorOptions,
  observeNeeds: (options) => ({ upgrade: options?.back ? 'back' : 'forward' }),
  halfDone: upgradeHalfDone,
  unconfirmed(ctx) {
    const paused = [...stillHeld(ctx.outputs)];
    return [
      `${ctx.target.name} was to take the writes; check it accepts them: SHOW default_transaction_read_only on ${ctx.target.name}`,
      `${ctx.primary.name} is read-only and subscribes to ${ctx.target.name}`,
      paused.length
        ? `clients are held on ${paused.join(', ')}; run the same command again to finish`
        : 'no router holds clients',
    ];
  },
  question: (plan) => {
    const { primary, target, upgrade } = plan.context;
    return `Move the writes from ${primary.name} to ${target.name}${upgrade?.direction === 'back' ? ' (back to the old version)' : ''}, leaving ${primary.name} read-only and subscribed to ${target.name}?`;
  },
  headline(report) {
    if (report.mode === 'undo' && report.outcome === 'rolled-back')
      return 'UNDID THE HALF-DONE CUTOVER: the source serves writes again';
    return HEADLINE[report.outcome];
  },
  afterwards: (report) =>
    (report.outcome === 'succeeded' || report.outcome === 'degraded') && report.mode !== 'undo'
      ? [
          `the other side stays read-only and subscribed to ${report.target}; to move the writes back: pg-handover upgrade-major -i <inventory> --back (after a --back: without it)`,
        ]
      : [],
};
