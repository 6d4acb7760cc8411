/**
 * How a rolling restart decides, purely: the switchover's own decision (primary, target, every
 * preflight check), plus the binaries every server restarts on. They must answer on every node's
 * host, agree on one version, and keep the major version (a restart, not an upgrade). Replicas
 * already on that version are not restarted again: a rerun continues where a run stopped.
 */
import { fail, pass, warn, type Check } from '../../decide/checks.js';
import { lastSeenOf } from '../../decide/last-seen.js';
import { reachableNodes, type ClusterState } from '../../model/cluster-state.js';
import { majorOf, versionText } from '../../model/node.js';
import type { Decision } from '../../playbook/plan.js';
import type { Playbook } from '../../playbook/schema.js';
import type { RollingRestart } from '../../steps/types.js';
import type { DecideInput } from '../types.js';
import { decideSwitchover } from '../switchover/decide.js';

export function decideRollingRestart(state: ClusterState, playbook: Playbook, input: DecideInput): Decision {
  const base = decideSwitchover(state, playbook, input);
  const { checks, rolling } = binariesOf(state, input.binDir);
  if (!base.context || !rolling) return { checks: [...base.checks, ...checks] };
  return { checks: [...base.checks, ...checks], context: { ...base.context, rolling } };
}

export function binariesOf(state: ClusterState, binDir: string | undefined): { checks: Check[]; rolling?: RollingRestart } {
  const nodes = reachableNodes(state);
  const found = nodes.map((node) => {
    const own = state.binaries?.[node.name];
    return { node, disk: binDir ? own?.next : own };
  });
  const unknown = found.filter((f) => f.disk?.versionNum === undefined);
  if (unknown.length) {
    return { checks: unknown.map(({ node, disk }) => fail('new-binaries', `${node.name}: ${disk?.error ?? 'no host_access, so it cannot be restarted from here'}`)) };
  }
  const versions = [...new Set(found.map((f) => f.disk!.versionNum!))];
  if (versions.length > 1) {
    return { checks: [fail('new-binaries', `the binaries differ: ${found.map((f) => `${f.node.name} ${f.disk!.version} in ${f.disk!.dir}`).join(', ')}; every node must restart on the same version`)] };
  }
  const versionNum = versions[0]!;
  const otherMajor = found.filter((f) => majorOf(f.node.versionNum) !== majorOf(versionNum));
  if (otherMajor.length) {
    return { checks: [fail('new-binaries', `${otherMajor.map((f) => `${f.node.name} runs ${versionText(f.node.versionNum)}`).join(', ')}; the binaries are ${versionText(versionNum)}: another major version is an upgrade (pg_upgrade, or a logical replica), not a restart`)] };
  }
  const restart = nodes.filter((n) => n.inRecovery && n.versionNum !== versionNum).map((n) => n.name).sort();
  const primaryDone = nodes.filter((n) => !n.inRecovery).every((n) => n.versionNum === versionNum);
  if (restart.length === 0 && primaryDone) {
    return { checks: [fail('restart-needed', `every node already runs ${versionText(versionNum)}${binDir ? ` from ${binDir}` : ''}: nothing to restart`)] };
  }
  const where = binDir ?? 'each node\'s own bin directory';
  // Commits wait for a synchronous standby: while it restarts, they wait (or, alone, they stall).
  const sync = lastSeenOf(state)?.syncStandbys.filter((name) => restart.includes(name)) ?? [];
  return {
    checks: [...sync.map((name) => warn('sync-standby-restart', `${name} is a synchronous standby: commits on the primary wait while it restarts, unless another standby confirms them`)), pass('new-binaries', `${versionText(versionNum)} in ${where} on every node; to restart: ${[...restart, ...nodes.filter((n) => !n.inRecovery).map((n) => `${n.name} (primary, after the switchover)`)].join(', ')}`)],
    rolling: { binDir, versionNum, restart },
  };
}
