/**
 * Whether the cluster already is what an unfinished run was meant to leave: then its record is
 * closed (a journal line), not finished again or looped on. A re-run after a manual repair ends
 * there instead of refusing every other procedure. Pure.
 */
import { nodeAt, nodeState, primariesOf, replicasOf, type ClusterState } from '../model/cluster-state.js';
import type { UnfinishedRun } from '../model/unfinished-run.js';
import { streamsFrom } from './target.js';

export function goalMet(state: ClusterState, run: UnfinishedRun): string | undefined {
  const node = nodeState(state, run.primary);
  if (run.procedure === 'rejoin') {
    return node?.reachable && node.inRecovery && streamsFrom(state, node, run.target)
      ? `${run.primary} streams from ${run.target}, as the rejoin meant`
      : undefined;
  }
  if (run.procedure === 'upgrade-major') return undefined; // two clusters: its own half-done logic knows
  const writers = primariesOf(state);
  if (writers.length !== 1 || writers[0]!.name !== run.target) return undefined;
  const routes = state.poolers.flatMap((p) => (p.reachable ? p.routes : []));
  if (!routes.length || routes.some((r) => r.paused || nodeAt(state, r.host, r.port) !== run.target)) return undefined;
  if (replicasOf(state).some((r) => !streamsFrom(state, r, run.target))) return undefined;
  // The old primary: a replica of the target (a switchover), or not answering (a failover: fenced, to rejoin).
  if (node?.reachable && !node.inRecovery) return undefined;
  return `${run.target} is the only writable primary, every router sends clients to it unpaused, and every replica that answers streams from it`;
}
