/**
 * A failover left half-way (the tool died, the guardian or a second run takes over): past the
 * promotion, finish it (repoint, resume, follow, verify); before it, release the held poolers
 * (nothing was promoted, so the old primary is still the only one). Without a journal, only the
 * unmistakable case is finished: one writable primary while a pooler the tool left paused still
 * sends clients to a silent node. Pure.
 */
import { nodeAt, nodeState, primariesOf, type ClusterState } from '../../model/cluster-state.js';
import type { NodeObservation } from '../../model/node.js';
import type { UnfinishedRun } from '../../model/unfinished-run.js';
import { buildPlan, phasesAround } from '../../playbook/plan.js';
import type { Playbook } from '../../playbook/schema.js';
import type { FenceMethod } from '../../steps/fence-modes.js';
import { newOutputs } from '../../steps/outputs.js';
import type { PlanContext } from '../../steps/types.js';
import type { HalfDone } from '../types.js';
import { othersOf, clusterReplicationTemplate } from '../../decide/followers.js';

export function failoverHalfDone(
  state: ClusterState,
  playbook: Playbook,
  unfinished: UnfinishedRun | undefined,
): HalfDone | undefined {
  const writable = primariesOf(state);
  const run = unfinished ? ` (run ${unfinished.runId} stopped after "${unfinished.lastEvent}")` : '';
  if (writable.length > 1)
    return {
      kind: 'stuck',
      reason: `${writable.map((n) => n.name).join(' and ')} both accept writes: split brain; fence one by hand before anything else`,
    };
  const primary = writable[0];
  if (unfinished?.promoteRequested) {
    if (primary?.name !== unfinished.target) {
      return {
        kind: 'stuck',
        reason: `promotion of ${unfinished.target} was requested${run} but it is not a writable primary: check SELECT pg_is_in_recovery() on ${unfinished.target}; once it is, run the failover again to finish`,
      };
    }
    return finish(
      state,
      playbook,
      unfinished.primary,
      primary,
      `${primary.name} was promoted but the failover did not finish${run}; this run will finish it`,
    );
  }
  if (unfinished) {
    const fenceMethod = (unfinished.fenceMethod ?? 'pooler-only') as FenceMethod;
    const context = contextOf(state, unfinished.primary, unfinished.target, fenceMethod);
    const outputs = newOutputs();
    for (const router of state.inventory.poolers) outputs['fence-writes'].held.add(router.name);
    const plan = buildPlan('undo half-done failover', 'undo', [{ kind: 'unfence' }], context, () => 'before-promotion');
    return {
      kind: 'undo',
      reason: `the failover stopped before promoting ${unfinished.target}${run}; this run will release the poolers`,
      plan: { ...plan, steps: plan.steps.map((s) => ({ ...s, undoable: false })) },
      outputs,
      noReturn: { requested: false, confirmed: false },
    };
  }
  if (!primary) return undefined;
  // Without a journal, only the tool's own trace counts: a pooler it left paused (held) still sending to the silent node.
  const stale = state.poolers
    .flatMap((p) => (p.reachable ? p.routes.filter((r) => r.paused) : []))
    .map((r) => nodeAt(state, r.host, r.port))
    .find((name) => {
      const node = name ? nodeState(state, name) : undefined;
      return name !== primary.name && node !== undefined && !node.reachable;
    });
  if (!stale) return undefined;
  return finish(
    state,
    playbook,
    stale,
    primary,
    `${primary.name} is the only writable primary but a pooler still sends clients to ${stale}, which does not answer; this run will finish the failover`,
  );
}

function finish(
  state: ClusterState,
  playbook: Playbook,
  oldName: string,
  primary: NodeObservation,
  reason: string,
): HalfDone {
  const oldSpec = state.inventory.nodes.find((n) => n.name === oldName)!;
  const context = contextOf(state, oldName, primary.name, oldSpec.fenceCommand ? 'fence-command' : 'pooler-only');
  const outputs = newOutputs();
  for (const router of state.inventory.poolers) outputs['fence-writes'].held.add(router.name);
  const after = playbook.steps.slice(
    playbook.steps.findIndex((_s, i) => phasesAround(playbook.steps)(i) === 'promotion') + 1,
  );
  return {
    kind: 'finish',
    reason,
    plan: buildPlan('finish half-done failover', 'finish', after, context, () => 'after-promotion'),
    outputs,
    noReturn: { requested: true, confirmed: true },
  };
}

function contextOf(state: ClusterState, oldName: string, newName: string, fenceMethod: FenceMethod): PlanContext {
  const spec = (name: string) => state.inventory.nodes.find((n) => n.name === name)!;
  const observed = nodeState(state, newName);
  return {
    inventory: state.inventory,
    state,
    primary: spec(oldName),
    target: spec(newName),
    ...othersOf(state, [oldName, newName]),
    targetObs: observed?.reachable ? observed : undefined,
    replication: clusterReplicationTemplate(state),
    fenceMethod,
  };
}
