/**
 * How a switchover decides, as pure functions of one ClusterState: the primary, the target
 * (named, or the first caught-up replica by name), the preflight checks, and how to fence.
 */
import { fail, pass, type Check } from '../../decide/checks.js';
import { DEFAULT_LIMITS, limitsFrom, type PreflightLimits } from '../../decide/limits.js';
import { preflight, type RouterChecks } from '../../decide/preflight.js';
import { othersOf, replicationTemplate } from '../../decide/followers.js';
import { CAUGHT_UP_BYTES, chooseTarget } from '../../decide/target.js';
import { nodeState, primariesOf, reachableNodes, type ClusterState } from '../../model/cluster-state.js';
import type { NodeObservation } from '../../model/node.js';
import type { Decision } from '../../playbook/plan.js';
import type { Playbook, StepOf } from '../../playbook/schema.js';
import { forPlatformSwitchover, roleFenceChecks } from '../../decide/managed.js';
import { pauseBudgetOf } from '../../steps/registry.js';
import { FENCE_MODES, PLANNED_FENCES, type FenceMethod } from '../../steps/fence-modes.js';
import type { PlanContext } from '../../steps/types.js';

function limitsOf(playbook: Playbook): PreflightLimits {
  const step = playbook.steps.find((s): s is StepOf<'preflight'> => s.kind === 'preflight');
  const budget = pauseBudgetOf(playbook.steps);
  return step ? limitsFrom(step, budget) : { ...DEFAULT_LIMITS, pauseBudgetMs: budget };
}

export function decideSwitchover(
  state: ClusterState,
  playbook: Playbook,
  input: { target?: string; routerChecks: RouterChecks },
): Decision {
  const targetName = input.target;
  const primaries = primariesOf(state);
  const primary = primaries.length === 1 ? primaries[0] : undefined;
  let target: NodeObservation | undefined;
  if (targetName) {
    const node = nodeState(state, targetName);
    target = node?.reachable ? node : undefined;
  } else if (primary) {
    target = chooseTarget(state, primary);
  }
  const checks = preflight({
    state,
    limits: limitsOf(playbook),
    primary,
    target,
    targetName,
    routerChecks: input.routerChecks,
  });
  if (!primary || !target) return { checks };
  const primarySpec = state.inventory.nodes.find((n) => n.name === primary.name)!;
  const targetSpec = state.inventory.nodes.find((n) => n.name === target.name)!;
  // A platform promotes the target (its promote hook): no shell, no superuser (docs/managed.md).
  const managed = targetSpec.promote !== undefined || targetSpec.switchover !== undefined;
  const fence = fenceMethodFor(playbook, {
    hostAccess: primarySpec.hostAccess !== undefined && primarySpec.dataDir !== undefined,
    // Where the read-only default cannot be set, or is not enough (a platform's admin role).
    preferRoles: managed || (!primary.isSuperuser && primary.missingPrivileges.some((p) => p.includes('ALTER SYSTEM'))),
  });
  const context: PlanContext = {
    inventory: state.inventory,
    state,
    primary: primarySpec,
    target: targetSpec,
    ...othersOf(state, [primary.name, target.name], primary.name),
    primaryObs: primary,
    targetObs: target,
    replication: replicationTemplate([target, ...reachableNodes(state)]),
    fenceMethod: fence.method,
    ...(managed ? { managed } : {}),
  };
  const fenceChecks =
    fence.method === 'role-fence'
      ? roleFenceChecks(primary)
      : fence.method === 'platform'
        ? [
            targetSpec.switchover
              ? pass(
                  'platform-switchover',
                  `${target.name} has the platform's switchover command; the pause lasts as long as it takes (up to the promote step's timeout), not ~0.1 s`,
                )
              : fail(
                  'platform-switchover',
                  `${target.name} has no switchover command in the inventory (nodes[].switchover), which the platform-switchover playbook runs`,
                ),
          ]
        : [];
  return {
    checks: [
      ...(fence.method === 'platform' ? forPlatformSwitchover(checks) : checks),
      fence.check,
      ...fenceChecks,
      pass(
        'target',
        `${target.name} chosen as the new primary${targetName ? ' (named)' : ` (the first by name of the streaming replicas within ${CAUGHT_UP_BYTES / 1024n / 1024n} MiB of the most advanced, so the dry run and the run agree)`}`,
      ),
    ],
    context,
  };
}

/** The playbook's wish, granted only when the mode's needs are met; `auto` takes the strongest mode available. */
function fenceMethodFor(
  playbook: Playbook,
  { hostAccess, preferRoles }: { hostAccess: boolean; preferRoles: boolean },
): { method: FenceMethod; check: Check } {
  const requested =
    playbook.steps.find((s): s is StepOf<'fence-writes'> => s.kind === 'fence-writes')?.method ?? 'auto';
  // `auto` takes the role fence only where it must (a managed estate, or no ALTER SYSTEM): else read-only, as before.
  const available = (m: FenceMethod) =>
    (!FENCE_MODES[m].needsHostAccess || hostAccess) &&
    (requested !== 'auto' || (m !== 'platform' && (m !== 'role-fence' || preferRoles)));
  if (requested !== 'auto' && !available(requested)) {
    return {
      method: requested,
      check: fail(
        'fence-method',
        `the playbook asks for method ${requested} but the primary has no host_access/data_dir in the inventory`,
      ),
    };
  }
  const method = requested !== 'auto' ? requested : PLANNED_FENCES.find(available)!;
  return { method, check: pass('fence-method', `fence by ${FENCE_MODES[method].checkText}`) };
}
