/**
 * A read-only snapshot of the cluster: every node and router as observed at one moment.
 * Preflight, target choice and planning are pure functions of it.
 */
import type { UpgradeState } from './logical.js';
import { peerAddress, type Inventory } from '../inventory/model.js';
import type { Lsn } from './lsn.js';
import type { NodeObservation, NodeState, WalReceiver } from './node.js';
import type { RouterState } from './router.js';
import type { Witnesses } from './witness.js';

export interface LockHolder {
  readonly applicationName: string;
  readonly pid: number;
  readonly since: string;
}

/** What exercising a node's host runner found (see host-probe.ts). */
export interface HostProbe {
  readonly node: string;
  readonly problems: readonly string[];
  /** The running postmaster's binary directory (postmaster.opts), when the inventory names none. */
  readonly binDir?: string;
  /** The file the postmaster's output goes to now (its stderr), when the inventory names no log_file. */
  readonly logFile?: string;
  /** Per replica it may follow after a switchover: why a replication connection to it from this host failed (undefined: it worked). */
  readonly streams?: Readonly<Record<string, string | undefined>>;
  /** Paths taken from the server because the inventory names none, said in the check. */
  readonly discovered?: readonly string[];
}

/**
 * The replicas' view of their upstream, read again after the slowest node answered or timed out:
 * a failover's second vantage point (a replica that heard from the primary during the tool's
 * probe contradicts "hung").
 */
export interface ReceiversAfter {
  /** Time from the start of the observation (the tool's probe) to this reading. */
  readonly sinceProbeMs: number;
  readonly byNode: Readonly<Record<string, { readonly receiver?: WalReceiver; readonly receiveLsn?: Lsn }>>;
}

export interface ClusterState {
  readonly observedAt: string;
  readonly inventory: Inventory;
  readonly nodes: readonly NodeState[];
  /** What directs clients to the primary (the inventory's `poolers:`), as observed. */
  readonly poolers: readonly RouterState[];
  /** Another pg-handover run holding the cluster lock, if any. */
  readonly lockHolder?: LockHolder;
  /**
   * Each host name seen (inventory, pooler targets, replicas' upstreams) and the addresses it
   * resolved to, so `localhost` and `127.0.0.1` are recognised as the same server.
   */
  readonly addresses?: Readonly<Record<string, readonly string[]>>;
  /** Host runners exercised: every writable primary's that has host_access (the run acts there). */
  readonly hosts?: readonly HostProbe[];
  /** Present when some node did not answer. */
  readonly receiversAfter?: ReceiversAfter;
  /**
   * The server binaries on each reachable node's host that has host_access: its own bin
   * directory's, and (`next`) those of the directory a rolling restart was given (--bin-dir).
   */
  readonly binaries?: Readonly<Record<string, NodeBinaries>>;
  /** A failover's witnesses of the node the routers send clients to (cluster/witnesses.ts). */
  readonly witnesses?: Witnesses;
  /** upgrade-major: both sides of the logical replication, per database (cluster/upgrade-observe.ts). */
  readonly upgrade?: UpgradeState;
}

export interface BinariesVersion {
  readonly dir: string;
  /** As `postgres --version` prints it (e.g. 15.18), and as server_version_num counts it. */
  readonly version?: string;
  readonly versionNum?: number;
  readonly error?: string;
}

export interface NodeBinaries extends BinariesVersion {
  readonly next?: BinariesVersion;
  /** Files the running server maps that were deleted since it started (a library or binary patched under it): it needs a restart. */
  readonly deleted?: readonly string[];
}

export const reachableNodes = (state: ClusterState): NodeObservation[] =>
  state.nodes.filter((n): n is NodeObservation => n.reachable);

/**
 * A primary that does not take the application's writes: read-only by default, or role-fenced
 * (every application role it has is NOLOGIN: a managed platform's old primary after a switchover).
 */
export const isFenced = (n: NodeObservation): boolean =>
  n.settings.default_transaction_read_only === 'on' ||
  (n.roleFence !== undefined && n.roleFence.roles.length > 0 && n.roleFence.roles.every((r) => !r.canLogin));

/** Nodes that accept writes: out of recovery and not fenced (read-only, or role-fenced). */
export const primariesOf = (state: ClusterState): NodeObservation[] =>
  reachableNodes(state).filter((n) => !n.inRecovery && !isFenced(n));

/** Former primaries left fenced (no host access to make them replicas): read-only, or role-fenced. */
export const fencedPrimariesOf = (state: ClusterState): NodeObservation[] =>
  reachableNodes(state).filter((n) => !n.inRecovery && isFenced(n));

export const replicasOf = (state: ClusterState): NodeObservation[] => reachableNodes(state).filter((n) => n.inRecovery);

export function nodeState(state: ClusterState, name: string): NodeState | undefined {
  return state.nodes.find((n) => n.name === name);
}

/** The inventory node listening at host:port (a pooler target, a replica's upstream). */
export function nodeAt(
  state: Pick<ClusterState, 'inventory' | 'addresses'>,
  host: string | undefined,
  port: number | undefined,
): string | undefined {
  if (host === undefined || port === undefined) return undefined;
  // As the members and poolers name it (connect_address) first, then as the tool does.
  const ways = state.inventory.nodes
    .flatMap((n) => [
      { name: n.name, ...peerAddress(n) },
      { name: n.name, host: n.conn.host, port: n.conn.port },
    ])
    .filter((w) => w.port === port);
  return (ways.find((w) => w.host === host) ?? ways.find((w) => sameHost(state.addresses, w.host, host)))?.name;
}

/** Two spellings of one host: equal, or resolving to a common address. */
export function sameHost(addresses: ClusterState['addresses'], a: string, b: string): boolean {
  if (a === b) return true;
  const of = (host: string) => addresses?.[host] ?? [host];
  const left = new Set(of(a));
  return of(b).some((address) => left.has(address));
}
