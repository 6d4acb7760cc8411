/**
 * A read-only snapshot of the cluster: every node and pooler as observed at one moment.
 * Preflight, target choice and planning are pure functions of it.
 */
import type { Inventory } from '../inventory/model.js';
import type { PoolerDatabase } from '../pooler/admin.js';
import type { NodeObservation, NodeState } from '../postgres/observe.js';

export interface PoolerReachable {
  readonly name: string;
  readonly reachable: true;
  readonly databases: readonly PoolerDatabase[];
  readonly config: Readonly<Record<string, string>>;
  /** host/port per pooled database as written in the config file. */
  readonly fileTargets: Readonly<Record<string, { host?: string; port?: number }>>;
  readonly fileError?: string;
}

export interface PoolerUnreachable {
  readonly name: string;
  readonly reachable: false;
  readonly error: string;
}

export type PoolerState = PoolerReachable | PoolerUnreachable;

export interface LockHolder {
  readonly applicationName: string;
  readonly pid: number;
  readonly since: string;
}

export interface ClusterState {
  readonly observedAt: string;
  readonly inventory: Inventory;
  readonly nodes: readonly NodeState[];
  readonly poolers: readonly PoolerState[];
  /** Another pg-handover run holding the cluster lock, if any. */
  readonly lockHolder?: LockHolder;
}

export const reachableNodes = (state: ClusterState): NodeObservation[] =>
  state.nodes.filter((n): n is NodeObservation => n.reachable);

const readOnly = (n: NodeObservation): boolean => n.settings.default_transaction_read_only === 'on';

/** Nodes that accept writes: out of recovery and not fenced read-only. */
export const primariesOf = (state: ClusterState): NodeObservation[] =>
  reachableNodes(state).filter((n) => !n.inRecovery && !readOnly(n));

/** Former primaries left fenced read-only (no host access to make them replicas). */
export const fencedPrimariesOf = (state: ClusterState): NodeObservation[] =>
  reachableNodes(state).filter((n) => !n.inRecovery && readOnly(n));

export const replicasOf = (state: ClusterState): NodeObservation[] =>
  reachableNodes(state).filter((n) => n.inRecovery);

export function nodeState(state: ClusterState, name: string): NodeState | undefined {
  return state.nodes.find((n) => n.name === name);
}

/** The inventory node listening at host:port (a pooler target, a replica's upstream). */
export function nodeAt(state: ClusterState, host: string | undefined, port: number | undefined): string | undefined {
  return state.inventory.nodes.find((n) => n.conn.host === host && n.conn.port === port)?.name;
}
