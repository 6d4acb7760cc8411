/**
 * Decide and plan, both pure: from a playbook and one ClusterState, pick the primary and the
 * target, run the preflight checks, and turn the playbook into an ordered plan of described steps.
 * The same plan drives the dry run, the progress view, the journal and the report.
 */
import { nodeState, primariesOf, replicasOf, type ClusterState } from '../model/cluster-state.js';
import { fail, pass, type Check } from '../decide/checks.js';
import { DEFAULT_LIMITS, limitsFrom, type PreflightLimits } from '../decide/limits.js';
import { preflight } from '../decide/preflight.js';
import { chooseTarget, notWaitedFor } from '../decide/target.js';
import type { NodeObservation } from '../model/node.js';
import { routerChecks } from '../routers/registry.js';
import { definitionOf } from '../steps/registry.js';
import type { FenceMethod, PlanContext } from '../steps/types.js';
import type { Playbook, Step, StepOf } from './schema.js';

export type Phase = 'before-promotion' | 'promotion' | 'after-promotion';

export interface PlannedStep {
  readonly index: number;
  readonly id: string;
  readonly title: string;
  readonly step: Step;
  readonly phase: Phase;
  readonly actions: readonly string[];
  readonly undoable: boolean;
}

export interface Plan {
  readonly playbook: string;
  /** A switchover, or finishing/undoing one that a previous run left half-done. */
  readonly mode: 'switchover' | 'finish' | 'undo';
  readonly context: PlanContext;
  readonly steps: readonly PlannedStep[];
}

export interface Decision {
  readonly checks: readonly Check[];
  readonly context?: PlanContext;
}

export function limitsOf(playbook: Playbook): PreflightLimits {
  const step = playbook.steps.find((s): s is StepOf<'preflight'> => s.kind === 'preflight');
  const budget = playbook.steps.reduce((sum, s) => {
    if (s.kind === 'fence-writes') return sum + s.pause_timeout + s.stop_timeout;
    if (s.kind === 'wait-catchup' || s.kind === 'promote' || s.kind === 'repoint-pooler') return sum + s.timeout;
    return sum;
  }, 0);
  return step ? limitsFrom(step, budget) : { ...DEFAULT_LIMITS, pauseBudgetMs: budget };
}

export function decide(state: ClusterState, playbook: Playbook, targetName?: string): Decision {
  const primaries = primariesOf(state);
  const primary = primaries.length === 1 ? primaries[0] : undefined;
  let target: NodeObservation | undefined;
  if (targetName) {
    const node = nodeState(state, targetName);
    target = node?.reachable ? node : undefined;
  } else if (primary) {
    target = chooseTarget(state, primary);
  }
  const checks = preflight({ state, limits: limitsOf(playbook), primary, target, targetName, routerChecks });
  if (!primary || !target) return { checks };
  const primarySpec = state.inventory.nodes.find((n) => n.name === primary.name)!;
  const targetSpec = state.inventory.nodes.find((n) => n.name === target.name)!;
  const fence = fenceMethodFor(playbook, primarySpec.hostAccess !== undefined && primarySpec.dataDir !== undefined);
  const context: PlanContext = {
    inventory: state.inventory, state, primary: primarySpec, target: targetSpec,
    ...othersOf(state, [primary.name, target.name], primary.name),
    primaryObs: primary, targetObs: target, replication: replicationTemplate([target, ...replicasOf(state)]), fenceMethod: fence.method,
  };
  return { checks: [...checks, fence.check, pass('target', `${target.name} chosen as the new primary${targetName ? ' (named)' : ' (least lag)'}`)], context };
}

/** Reachable nodes besides `exclude` (they will follow), and the unreachable ones (reported). */
export function othersOf(state: ClusterState, exclude: readonly string[], upstream?: string): Pick<PlanContext, 'siblings' | 'unreachable' | 'waitFor' | 'toCheck'> {
  const others = state.nodes.filter((n) => !exclude.includes(n.name));
  // Only replicas follow; a former primary left fenced read-only is reported by preflight instead.
  const replicas = others.filter((n): n is NodeObservation => n.reachable && n.inRecovery);
  const reasons = replicas.map((n) => ({ name: n.name, reason: notWaitedFor(state, n, upstream) }));
  return {
    siblings: replicas.map((n) => state.inventory.nodes.find((s) => s.name === n.name)!),
    unreachable: others.filter((n) => !n.reachable).map((n) => n.name),
    waitFor: reasons.filter((r) => r.reason === undefined).map((r) => r.name),
    toCheck: reasons.flatMap((r) => (r.reason === undefined ? [] : [{ name: r.name, reason: r.reason }])),
  };
}

/** The first replica's way of connecting upstream, to copy for nodes that will follow. */
export function replicationTemplate(replicas: readonly NodeObservation[]): PlanContext['replication'] {
  const model = replicas.find((r) => r.inRecovery && r.settings.primary_conninfo) ?? replicas.find((r) => r.settings.primary_conninfo);
  return { conninfo: model?.settings.primary_conninfo ?? '', usesSlots: Boolean(model?.settings.primary_slot_name) };
}

function fenceMethodFor(playbook: Playbook, hostAccess: boolean): { method: FenceMethod; check: Check } {
  const requested = playbook.steps.find((s): s is StepOf<'fence-writes'> => s.kind === 'fence-writes')?.method ?? 'auto';
  if (requested === 'clean-stop' && !hostAccess) {
    return { method: 'clean-stop', check: fail('fence-method', 'the playbook asks for method clean-stop but the primary has no host_access/data_dir in the inventory') };
  }
  const method: FenceMethod = requested === 'read-only' || !hostAccess ? 'read-only' : 'clean-stop';
  return { method, check: pass('fence-method', `fence by ${method === 'clean-stop' ? 'a clean stop of the old primary' : 'read-only + terminating sessions'}`) };
}

export function buildPlan(playbook: Playbook, context: PlanContext): Plan {
  const promoteAt = playbook.steps.findIndex((s) => s.kind === 'promote');
  const steps = playbook.steps.map((step, index): PlannedStep => {
    const definition = definitionOf(step);
    const phase: Phase = index < promoteAt ? 'before-promotion' : index === promoteAt ? 'promotion' : 'after-promotion';
    return {
      index,
      id: `${index + 1}-${step.kind}`,
      title: step.name ?? definition.title(step, context),
      step,
      phase,
      actions: definition.describe(step, context),
      undoable: phase === 'before-promotion' && definition.undo !== undefined,
    };
  });
  return { playbook: playbook.name, mode: 'switchover', context, steps };
}
