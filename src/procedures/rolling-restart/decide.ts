/**
 * How a rolling restart decides, purely: the switchover's own decision (primary, target, every
 * preflight check), plus the binaries every server restarts on. They must answer on every node's
 * host, agree on one version, and keep the major version (a restart, not an upgrade). Replicas
 * already on that version are not restarted again: a rerun continues where a run stopped.
 */
import { fail, pass, warn, type Check } from '../../decide/checks.js';
import { lastSeenOf } from '../../decide/last-seen.js';
import { primariesOf, reachableNodes, type ClusterState } from '../../model/cluster-state.js';
import { majorOf, versionText } from '../../model/node.js';
import type { Decision } from '../../playbook/plan.js';
import type { Playbook } from '../../playbook/schema.js';
import type { RollingRestart } from '../../steps/types.js';
import type { DecideInput } from '../types.js';
import type { RollingRestartOptions } from './options.js';
import { decideSwitchover } from '../switchover/decide.js';

export function decideRollingRestart(
  state: ClusterState,
  playbook: Playbook,
  input: DecideInput<RollingRestartOptions>,
): Decision {
  const { checks, rolling, done } = binariesOf(state, input.options?.binDir, input.options?.all ?? false);
  const down = state.nodes
    .filter((n) => !n.reachable)
    .map((n) =>
      warn(
        'node-down',
        `${n.name} does not answer: it is not restarted and stays on the binaries it runs; once it is back, \`pg-handover rolling-restart\` again restarts it (and makes it stream from the primary)`,
      ),
    );
  if (done) return { checks: [...checks, ...down], done };
  if (rolling?.replicasOnly) {
    // The primary already runs the new binaries: restart the replicas left, no switchover.
    const primary = primariesOf(state)[0];
    const base = decideSwitchover(state, playbook, { ...input, target: undefined });
    const spec = primary && state.inventory.nodes.find((n) => n.name === primary.name);
    if (!primary || !spec) return { checks: [...base.checks, ...checks] };
    const context = {
      ...(base.context ?? emptyContext(state)),
      primary: spec,
      primaryObs: primary,
      target: spec,
      targetObs: primary,
      rolling,
    };
    // No switchover, so none of its pair checks: one primary, no other run, and the restarts' own checks.
    const kept = base.checks.filter((c) => ['one-primary', 'no-other-run'].includes(c.id));
    return {
      checks: [
        ...kept,
        ...checks,
        ...down,
        pass(
          'switchover',
          `${primary.name} already runs ${versionText(rolling.versionNum)}: no switchover, only ${rolling.restart.join(', ')} restarted`,
        ),
      ],
      context,
      only: ['restart-replicas'],
    };
  }
  const base = decideSwitchover(state, playbook, input);
  if (!base.context || !rolling) return { checks: [...base.checks, ...checks, ...down] };
  return { checks: [...base.checks, ...checks, ...down], context: { ...base.context, rolling } };
}

const emptyContext = (state: ClusterState) => ({
  inventory: state.inventory,
  state,
  siblings: [],
  waitFor: [],
  toCheck: [],
  unreachable: [],
  replication: { conninfo: '', usesSlots: false },
  fenceMethod: 'clean-stop' as const,
});

export function binariesOf(
  state: ClusterState,
  binDir: string | undefined,
  all = false,
): { checks: Check[]; rolling?: RollingRestart; done?: string } {
  const nodes = reachableNodes(state);
  const found = nodes.map((node) => {
    const own = state.binaries?.[node.name];
    return { node, disk: binDir ? own?.next : own };
  });
  const unknown = found.filter((f) => f.disk?.versionNum === undefined);
  if (unknown.length) {
    return {
      checks: unknown.map(({ node, disk }) =>
        fail('new-binaries', `${node.name}: ${disk?.error ?? 'no host_access, so it cannot be restarted from here'}`),
      ),
    };
  }
  const versions = [...new Set(found.map((f) => f.disk!.versionNum!))];
  if (versions.length > 1) {
    return {
      checks: [
        fail(
          'new-binaries',
          `the binaries differ: ${found.map((f) => `${f.node.name} ${f.disk!.version} in ${f.disk!.dir}`).join(', ')}; every node must restart on the same version`,
        ),
      ],
    };
  }
  const versionNum = versions[0]!;
  const newer = found.filter((f) => f.node.versionNum > versionNum);
  if (newer.length) {
    return {
      checks: [
        fail(
          'new-binaries',
          `${newer.map((f) => `${f.node.name} runs ${versionText(f.node.versionNum)}`).join(', ')}, newer than the binaries in ${binDir ?? 'its bin_dir'} (${versionText(versionNum)}): that would be a downgrade; name the binaries it runs with --bin-dir`,
        ),
      ],
    };
  }
  const otherMajor = found.filter((f) => majorOf(f.node.versionNum) !== majorOf(versionNum));
  if (otherMajor.length) {
    return {
      checks: [
        fail(
          'new-binaries',
          `${otherMajor.map((f) => `${f.node.name} runs ${versionText(f.node.versionNum)}`).join(', ')}; the binaries are ${versionText(versionNum)}: another major version is an upgrade (pg_upgrade, or a logical replica), not a restart`,
        ),
      ],
    };
  }
  // --all (an OS or library patch): every server, the version unchanged; a rerun without it finishes the rest.
  // A server mapping deleted files (a library patched under it) needs a restart on the same version too.
  const due = (n: (typeof nodes)[number]) =>
    all || n.versionNum !== versionNum || (state.binaries?.[n.name]?.deleted?.length ?? 0) > 0;
  const restart = nodes
    .filter((n) => n.inRecovery && due(n))
    .map((n) => n.name)
    .sort();
  const primaryDone = nodes.filter((n) => !n.inRecovery).every((n) => !due(n));
  if (restart.length === 0 && primaryDone) {
    const down = state.nodes.filter((n) => !n.reachable).map((n) => n.name);
    return {
      checks: [
        pass(
          'restart-needed',
          `every node that answers already runs ${versionText(versionNum)}${binDir ? ` from ${binDir}` : ''}`,
        ),
      ],
      done: `every node already runs ${versionText(versionNum)}${down.length ? ` (${down.join(', ')} did not answer: run again once it is back)` : ''}`,
    };
  }
  const where = binDir ?? "each node's own bin directory";
  // Commits wait for a synchronous standby: while it restarts, they wait (or, alone, they stall).
  const sync = lastSeenOf(state)?.syncStandbys.filter((name) => restart.includes(name)) ?? [];
  return {
    checks: [
      ...sync.map((name) =>
        warn(
          'sync-standby-restart',
          `${name} is a synchronous standby: commits on the primary wait while it restarts, unless another standby confirms them`,
        ),
      ),
      pass(
        'new-binaries',
        `${versionText(versionNum)} in ${where} on every node; to restart: ${[...restart, ...nodes.filter((n) => !n.inRecovery).map((n) => `${n.name} (primary, after the switchover)`)].join(', ')}`,
      ),
    ],
    rolling: { binDir, versionNum, restart, ...(primaryDone ? { replicasOnly: true } : {}) },
  };
}
