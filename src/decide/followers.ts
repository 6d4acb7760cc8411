/**
 * Who follows the new primary, decided purely (switchover, failover, rejoin and the rolling
 * restart share it): the reachable replicas, those waited for and those only reported, and the
 * way replicas connect upstream, copied from one that does.
 */
import type { NodeSpec } from '../inventory/model.js';
import { reachableNodes, type ClusterState } from '../model/cluster-state.js';
import type { NodeObservation } from '../model/node.js';
import { notWaitedFor } from './target.js';

export interface Followers {
  readonly siblings: readonly NodeSpec[];
  readonly unreachable: readonly string[];
  readonly waitFor: readonly string[];
  readonly toCheck: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
}

export interface ReplicationTemplate {
  readonly conninfo: string;
  readonly usesSlots: boolean;
}

/** Reachable nodes besides `exclude` (they will follow), and the unreachable ones (reported). */
export function othersOf(state: ClusterState, exclude: readonly string[], upstream?: string): Followers {
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

/**
 * The first replica's way of connecting upstream, to copy for nodes that will follow; failing
 * that, a primary's own (kept from when it was a replica: a promotion leaves primary_conninfo in
 * place, inert, so a two-node cluster after a failover still knows the replication user and
 * passfile when its old primary rejoins).
 */
export function replicationTemplate(nodes: readonly NodeObservation[]): ReplicationTemplate {
  const model =
    nodes.find((r) => r.inRecovery && r.settings.primary_conninfo) ?? nodes.find((r) => r.settings.primary_conninfo);
  return { conninfo: model?.settings.primary_conninfo ?? '', usesSlots: Boolean(model?.settings.primary_slot_name) };
}

/** The cluster's replication template: its replicas' first, then any reachable node's. */
export const clusterReplicationTemplate = (state: ClusterState): ReplicationTemplate =>
  replicationTemplate(reachableNodes(state));
