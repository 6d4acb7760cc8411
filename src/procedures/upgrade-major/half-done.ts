/**
 * A half-done upgrade-major run (the tool died; its guardian, or a second run, finds its journal):
 * past take-over, finish it (repoint, resume, compare); before, undo it: replication the first way
 * again, the source writable, clients released. Without a journal nothing is guessed. Pure.
 */
import { nodeAt, type ClusterState } from '../../model/cluster-state.js';
import type { UnfinishedRun } from '../../model/unfinished-run.js';
import { buildPlan, phasesAround } from '../../playbook/plan.js';
import type { Playbook } from '../../playbook/schema.js';
import { newOutputs } from '../../steps/outputs.js';
import type { HalfDone } from '../types.js';
import { cutoverContext } from './decide.js';

export function upgradeHalfDone(
  state: ClusterState,
  playbook: Playbook,
  unfinished?: UnfinishedRun,
): HalfDone | undefined {
  if (!unfinished || unfinished.procedure !== 'upgrade-major') return undefined;
  const { primary, target } = unfinished;
  const back = state.inventory.upgradeTarget?.nodes.some((n) => n.name === primary) ?? false;
  // A role fence's record (the roles as they were) comes from the journal.
  const context = cutoverContext(
    state,
    primary,
    target,
    back ? 'back' : 'forward',
    unfinished.roleFence ? 'role-fence' : 'read-only',
  );
  if (!context)
    return {
      kind: 'stuck',
      reason: `run ${unfinished.runId} left the upgrade half-done and ${primary} or ${target} is not in the inventory`,
    };
  const outputs = newOutputs();
  const fence = outputs['fence-writes'];
  if (unfinished.roleFence) fence.roleFence = unfinished.roleFence;
  for (const router of state.inventory.poolers) fence.held.add(router.name);
  const routed = state.poolers.flatMap((p) => (p.reachable ? p.routes.map((r) => nodeAt(state, r.host, r.port)) : []));
  if (unfinished.promoteRequested || (routed.length > 0 && routed.every((n) => n === target))) {
    const after = playbook.steps.slice(
      playbook.steps.findIndex((_s, i) => phasesAround(playbook.steps)(i) === 'promotion') + 1,
    );
    return {
      kind: 'finish',
      reason: `run ${unfinished.runId} stopped after ${target} took the writes; this run will finish it: repoint, resume`,
      plan: buildPlan('finish half-done upgrade', 'finish', after, context, () => 'after-promotion'),
      outputs,
      noReturn: { requested: true, confirmed: true },
    };
  }
  const source = state.nodes.find((n) => n.name === primary);
  fence.readOnly = Boolean(source?.reachable && source.settings.default_transaction_read_only === 'on');
  const plan = buildPlan(
    'undo half-done upgrade',
    'undo',
    [{ kind: 'unswitch-replication' }, { kind: 'unfence' }],
    context,
    () => 'before-promotion',
  );
  return {
    kind: 'undo',
    reason: `run ${unfinished.runId} stopped before ${target} took the writes; this run will undo it: ${target} subscribes to ${primary} again, ${primary} writable, clients released`,
    plan: { ...plan, steps: plan.steps.map((s) => ({ ...s, undoable: false })) },
    outputs,
    noReturn: { requested: false, confirmed: false },
  };
}
