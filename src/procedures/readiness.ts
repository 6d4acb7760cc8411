/**
 * Is the cluster ready for a switchover now, and for a failover if the primary died now? Made of
 * the procedures' own decisions, so `check` and a real run agree. Pure.
 */
import { failures, type Check } from '../decide/checks.js';
import { identityChecks } from '../decide/identity.js';
import { replayLag } from '../decide/lag.js';
import { syncOverrideChecks, type RouterChecks } from '../decide/preflight.js';
import { nodeAt, primariesOf, type ClusterState } from '../model/cluster-state.js';
import type { LastSeen } from '../model/incident.js';
import { maxLsn } from '../model/lsn.js';
import { versionText } from '../model/node.js';
import type { Playbook } from '../playbook/schema.js';
import { decideFailover, failoverIfDiedNow } from './failover/decide.js';
import { decideSwitchover } from './switchover/decide.js';

export interface NodeHealth {
  readonly name: string;
  readonly up: boolean;
  readonly role: 'primary' | 'replica' | 'down';
  readonly streaming?: boolean;
  /** Bytes the replica has yet to replay of what the primary flushed. */
  readonly lagBytes?: number;
  readonly lagSeconds?: number;
  readonly error?: string;
  /** The binaries on its host are another version than it runs (packages upgraded under it): restart it. */
  readonly binaries?: string;
}

export interface ProcedureReadiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
  readonly target?: string;
}

export interface Readiness {
  readonly primary?: string;
  readonly nodes: readonly NodeHealth[];
  readonly routers: ReadonlyArray<{
    readonly name: string;
    readonly reachable: boolean;
    readonly routes: ReadonlyArray<{ readonly route: string; readonly node?: string; readonly paused: boolean }>;
    /** What a new client met through it (an application login), when the inventory gives one: none, served. */
    readonly clients?: readonly string[];
  }>;
  readonly switchover: ProcedureReadiness;
  readonly failover: ProcedureReadiness;
  /** What is wrong with the inventory itself (a server listed twice, a node of another cluster). */
  readonly problems: readonly string[];
  /** Worth an operator's look, not blocking (e.g. ALTER SYSTEM overriding the config's synchronous_standby_names). */
  readonly warnings: readonly string[];
  /** ready: both ready, every node answers and no router turns clients away; unreachable: no writable primary answers; split-brain: two or more do. */
  readonly verdict: 'ready' | 'not-ready' | 'unreachable' | 'split-brain';
}

export function readiness(
  state: ClusterState,
  playbooks: { switchover: Playbook; failover: Playbook },
  routerChecks: RouterChecks,
  lastSeen?: LastSeen,
  /** Problems an application login through each router met (by router name); absent: not asked. */
  clientLogins: Readonly<Record<string, readonly string[]>> = {},
): Readiness {
  const primaries = primariesOf(state);
  const primary = primaries.length === 1 ? primaries[0] : undefined;
  const nodes = state.nodes.map((n): NodeHealth => {
    if (!n.reachable) return { name: n.name, up: false, role: 'down', error: n.error };
    const disk = state.binaries?.[n.name];
    const stale =
      disk?.versionNum !== undefined && disk.versionNum > n.versionNum
        ? { binaries: `runs ${versionText(n.versionNum)}, binaries ${disk.version} in ${disk.dir}: restart needed` }
        : disk?.deleted?.length
          ? { binaries: `maps files deleted since it started (${disk.deleted.join(', ')}): restart needed` }
          : {};
    if (!n.inRecovery) return { name: n.name, up: true, role: 'primary', ...stale };
    const streaming = n.walReceiver?.status === 'streaming';
    const lagBytes =
      primary?.flushLsn !== undefined
        ? Number(primary.flushLsn - (maxLsn(n.replayLsn) ?? primary.flushLsn))
        : undefined;
    return {
      name: n.name,
      up: true,
      role: 'replica',
      streaming,
      lagBytes: lagBytes === undefined ? undefined : Math.max(0, lagBytes),
      lagSeconds: primary ? replayLag(primary, n).ms / 1000 : undefined,
      ...stale,
    };
  });
  const routers = state.poolers.map((p) => ({
    name: p.name,
    reachable: p.reachable,
    routes: p.reachable
      ? p.routes.map((r) => ({ route: r.name, node: nodeAt(state, r.host, r.port), paused: r.paused }))
      : [],
    ...(clientLogins[p.name] ? { clients: clientLogins[p.name] } : {}),
  }));
  // A router that points at the primary and turns every new client away is an outage, not readiness.
  const refused = routers.flatMap((r) => (r.clients ?? []).map((problem) => `${r.name}: ${problem}`));
  const switchover = switchoverReadiness(state, playbooks.switchover, routerChecks, primary !== undefined);
  const failover = primary
    ? failoverIfNeeded(state, playbooks.failover, primary.name)
    : fromChecks(decideFailover(state, playbooks.failover, { routerChecks, lastSeen }));
  const down = nodes.filter((n) => !n.up).map((n) => `${n.name} does not answer`);
  const problems = failures(identityChecks(state)).map((c) => `${c.id}: ${c.message}`);
  // A node of another cluster is a bad inventory, not a second primary of this one.
  const verdict = problems.length
    ? 'not-ready'
    : primaries.length > 1
      ? 'split-brain'
      : !primary
        ? 'unreachable'
        : switchover.ready && failover.ready && !down.length && !refused.length
          ? 'ready'
          : 'not-ready';
  const warnings = syncOverrideChecks(state).map((c) => `${c.id}: ${c.message}`);
  return {
    primary: primary?.name ?? (primaries.length > 1 ? primaries.map((p) => p.name).join(' and ') : undefined),
    nodes,
    routers,
    switchover,
    failover: { ...failover, reasons: [...failover.reasons, ...(primary ? down : [])] },
    problems,
    warnings,
    verdict,
  };
}

function switchoverReadiness(
  state: ClusterState,
  playbook: Playbook,
  routerChecks: RouterChecks,
  hasPrimary: boolean,
): ProcedureReadiness {
  if (!hasPrimary) return { ready: false, reasons: ['no single writable primary answers'] };
  return fromChecks(decideSwitchover(state, playbook, { routerChecks }));
}

function fromChecks(decision: {
  checks: readonly Check[];
  context?: { target: { name: string } };
}): ProcedureReadiness {
  const failed = failures(decision.checks);
  return {
    ready: failed.length === 0 && decision.context !== undefined,
    reasons: failed.map((c) => `${c.id}: ${c.message}`),
    target: decision.context?.target.name,
  };
}

/**
 * The primary is up: a failover now would promote the replica the failover itself chooses; it is
 * ready when that replica lacks no more than the playbook's loss limit of what the primary flushed.
 */
function failoverIfNeeded(state: ClusterState, playbook: Playbook, primary: string): ProcedureReadiness {
  const reasons: string[] = [];
  if (!state.poolers.some((p) => p.reachable))
    reasons.push('no pooler answers: a failover could not fence or repoint clients');
  const now = failoverIfDiedNow(state, playbook, primary);
  reasons.push(...now.failed);
  return { ready: reasons.length === 0 && now.target !== undefined, reasons, target: now.target };
}
