/**
 * Plans for finishing or undoing a half-done switchover (see decide/recovery.ts). Finishing runs
 * the playbook's steps after `promote`, which are idempotent; undoing runs `unfence`. Pure.
 */
import { nodeState, replicasOf, type ClusterState } from '../model/cluster-state.js';
import type { Recovery } from '../decide/recovery.js';
import type { NodeObservation } from '../model/node.js';
import { definitionOf } from '../steps/registry.js';
import { newFacts, type Facts, type FenceMethod, type PlanContext } from '../steps/types.js';
import { othersOf, replicationTemplate, type Plan, type PlannedStep } from './plan.js';
import type { Playbook, Step } from './schema.js';

export interface RecoveryPlan {
  readonly plan: Plan;
  readonly facts: Facts;
}

export function recoveryPlan(recovery: Exclude<Recovery, { kind: 'stuck' }>, state: ClusterState, playbook: Playbook): RecoveryPlan {
  const spec = (name: string) => state.inventory.nodes.find((n) => n.name === name)!;
  const observed = (name: string | undefined) => {
    const node = name ? nodeState(state, name) : undefined;
    return node?.reachable ? (node as NodeObservation) : undefined;
  };
  const oldName = recovery.kind === 'finish' ? (recovery.oldPrimary ?? recovery.newPrimary) : recovery.oldPrimary;
  const newName = recovery.kind === 'finish' ? recovery.newPrimary : recovery.oldPrimary;
  const old = observed(oldName);
  const oldSpec = spec(oldName);
  const fenceMethod: FenceMethod = old ? (old.inRecovery ? 'clean-stop' : 'read-only') : oldSpec.hostAccess ? 'clean-stop' : 'read-only';
  const context: PlanContext = {
    inventory: state.inventory, state, primary: oldSpec, target: spec(newName),
    ...othersOf(state, [oldName, newName]),
    primaryObs: old, replication: replicationTemplate(replicasOf(state)), fenceMethod,
  };
  const facts = newFacts();
  facts.oldPrimaryStopped = !old;
  // Down, or still exiting: the steps that start it again wait for its postmaster first.
  facts.stopRequested = !old;
  facts.pausedPoolers = new Set(state.inventory.poolers.map((p) => p.name));
  if (recovery.kind === 'undo-fence') {
    facts.readOnlyApplied = Boolean(old && !old.inRecovery && old.settings.default_transaction_read_only === 'on');
    return { plan: planOf('undo', [{ kind: 'unfence' }], context), facts };
  }
  facts.promoteRequested = true;
  facts.promoted = true;
  facts.newTimeline = observed(newName)?.timeline;
  const promoteAt = playbook.steps.findIndex((s) => s.kind === 'promote');
  return { plan: planOf('finish', playbook.steps.slice(promoteAt + 1), context), facts };
}

function planOf(mode: Plan['mode'], steps: readonly Step[], context: PlanContext): Plan {
  return {
    playbook: mode === 'finish' ? 'finish half-done switchover' : 'undo half-done switchover',
    mode,
    context,
    steps: steps.map((step, index): PlannedStep => {
      const definition = definitionOf(step);
      return {
        index, id: `${index + 1}-${step.kind}`, title: step.name ?? definition.title(step, context), step,
        phase: mode === 'undo' ? 'before-promotion' : 'after-promotion', actions: definition.describe(step, context), undoable: false,
      };
    }),
  };
}
