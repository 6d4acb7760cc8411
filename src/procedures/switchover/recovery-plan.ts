/**
 * Plans for finishing or undoing a half-done switchover (see half-done.ts). Finishing runs the
 * playbook's steps after its point of no return, which are idempotent; undoing runs `unfence`.
 * The step outputs they read are seeded from the observed cluster. Pure.
 */
import { nodeState, type ClusterState } from '../../model/cluster-state.js';
import { buildPlan, phasesAround, type Plan } from '../../playbook/plan.js';
import type { Playbook } from '../../playbook/schema.js';
import type { FenceMethod } from '../../steps/fence-modes.js';
import { newOutputs, type Outputs } from '../../steps/outputs.js';
import type { NoReturn, PlanContext } from '../../steps/types.js';
import { othersOf, clusterReplicationTemplate } from '../../decide/followers.js';
import type { Recovery } from './half-done.js';
import type { UnfinishedRun } from '../../model/unfinished-run.js';

export interface RecoveryPlan {
  readonly plan: Plan;
  readonly outputs: Outputs;
  readonly noReturn: NoReturn;
}

export function recoveryPlan(
  recovery: Exclude<Recovery, { kind: 'stuck' }>,
  state: ClusterState,
  playbook: Playbook,
  unfinished?: UnfinishedRun,
): RecoveryPlan {
  const spec = (name: string) => state.inventory.nodes.find((n) => n.name === name)!;
  const observed = (name: string | undefined) => {
    const node = name ? nodeState(state, name) : undefined;
    return node?.reachable ? node : undefined;
  };
  const oldName = recovery.kind === 'finish' ? (recovery.oldPrimary ?? recovery.newPrimary) : recovery.oldPrimary;
  const newName = recovery.kind === 'finish' ? recovery.newPrimary : recovery.oldPrimary;
  const old = observed(oldName);
  const oldSpec = spec(oldName);
  // A role fence's record (the roles as they were) comes from the journal, never from a guess.
  const roleFence = unfinished?.roleFence;
  const fenceMethod: FenceMethod = roleFence
    ? 'role-fence'
    : old
      ? old.inRecovery
        ? 'clean-stop'
        : 'read-only'
      : oldSpec.hostAccess
        ? 'clean-stop'
        : 'read-only';
  const context: PlanContext = {
    inventory: state.inventory,
    state,
    primary: oldSpec,
    target: spec(newName),
    ...othersOf(state, [oldName, newName]),
    primaryObs: old,
    replication: clusterReplicationTemplate(state),
    fenceMethod,
    ...(spec(newName).promote ? { managed: true } : {}),
  };
  const outputs = newOutputs();
  const fence = outputs['fence-writes'];
  if (roleFence) fence.roleFence = roleFence;
  fence.stopped = !old && !roleFence;
  // Down, or still exiting: the steps that start it again wait for its postmaster first.
  fence.stopRequested = !old && !roleFence;
  for (const router of state.inventory.poolers) fence.held.add(router.name);
  if (recovery.kind === 'undo-fence') {
    fence.readOnly = Boolean(old && !old.inRecovery && old.settings.default_transaction_read_only === 'on');
    const plan = buildPlan(
      'undo half-done switchover',
      'undo',
      [{ kind: 'unfence' }],
      context,
      () => 'before-promotion',
    );
    return {
      plan: { ...plan, steps: plan.steps.map((s) => ({ ...s, undoable: false })) },
      outputs,
      noReturn: { requested: false, confirmed: false },
    };
  }
  const after = playbook.steps.slice(
    playbook.steps.findIndex((_s, i) => phasesAround(playbook.steps)(i) === 'promotion') + 1,
  );
  return {
    plan: buildPlan('finish half-done switchover', 'finish', after, context, () => 'after-promotion'),
    outputs,
    noReturn: { requested: true, confirmed: true },
  };
}
