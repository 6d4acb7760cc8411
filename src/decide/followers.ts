/**
 * Who follows the new primary, decided purely (switchover, failover, rejoin and the rolling
 * restart share it): the reachable replicas, those waited for and those only reported, and the
 * way replicas connect upstream, copied from one that does.
 */
import type { NodeSpec } from '../inventory/model.js';
import { reachableNodes, type ClusterState } from '../model/cluster-state.js';
import { conninfoModel, type NodeObservation } from '../model/node.js';
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

/** How the model node (model/node.ts conninfoModel) connects upstream, to copy for nodes that will follow. */
export function replicationTemplate(nodes: readonly NodeObservation[]): ReplicationTemplate {
  const model = conninfoModel(nodes);
  return { conninfo: model?.settings.primary_conninfo ?? '', usesSlots: Boolean(model?.settings.primary_slot_name) };
}

/** The cluster's replication template: its replicas' first, then any reachable node's. */
export const clusterReplicationTemplate = (state: ClusterState): ReplicationTemplate =>
  replicationTemplate(reachableNodes(state));
