/**
 * Recognises a half-done switchover from the cluster's state (and the journal of an unfinished
 * run, when there is one) and says what to do: finish it, undo its fence, or stop and explain.
 * Pure. It never guesses without evidence (a journal, or a pooler the tool left paused): an
 * unexplained paused pooler is reported, not resumed; a pooler pointing at a replica with no
 * journal is left to preflight, which refuses and names it.
 */
import { nodeAt, primariesOf, reachableNodes, type ClusterState } from '../../model/cluster-state.js';
import type { UnfinishedRun } from '../../model/unfinished-run.js';

export type Recovery =
  | { readonly kind: 'finish'; readonly oldPrimary?: string; readonly newPrimary: string; readonly reason: string }
  | { readonly kind: 'undo-fence'; readonly oldPrimary: string; readonly reason: string }
  | { readonly kind: 'stuck'; readonly reason: string };

export function detectRecovery(state: ClusterState, unfinished?: UnfinishedRun): Recovery | undefined {
  // Not fenced: a role-fenced old primary takes no application writes. A target the run asked to
  // promote after a role fence has the same NOLOGIN (roles replicate) until the run gives the
  // roles back: out of recovery, it is the primary this run made.
  const promoted =
    unfinished?.promoteRequested && unfinished.roleFence
      ? reachableNodes(state).find((n) => n.name === unfinished.target && !n.inRecovery)
      : undefined;
  const writable = promoted
    ? [promoted, ...primariesOf(state).filter((n) => n.name !== promoted.name)]
    : primariesOf(state);
  const pooled = pooledTargets(state);
  const paused = pooled.filter((d) => d.paused);
  const run = unfinished ? ` (run ${unfinished.runId} stopped after "${unfinished.lastEvent}")` : '';
  if (writable.length > 1) {
    return {
      kind: 'stuck',
      reason: `${writable.map((n) => n.name).join(' and ')} both accept writes: split brain; fence one by hand before anything else`,
    };
  }
  const primary = writable[0];
  if (primary) {
    const clean = pooled.every((d) => d.node === primary.name && !d.paused);
    const promotedByRun = unfinished?.promoteRequested && unfinished.target === primary.name;
    if (clean && !promotedByRun) return undefined;
    if (unfinished && !unfinished.promoteRequested && unfinished.primary === primary.name) {
      return {
        kind: 'undo-fence',
        oldPrimary: primary.name,
        reason: `the pooler is paused but ${primary.name} is still the primary${run}`,
      };
    }
    // Evidence, not a guess: without a journal, only the tool's own trace (a pooler it left
    // paused) makes this a half-done run. A pooler that merely points elsewhere is a cluster that
    // does not look as expected: preflight refuses and names it.
    if (!unfinished && !paused.length) return undefined;
    const elsewhere = pooled.find((d) => d.node !== primary.name)?.node;
    const oldPrimary = unfinished?.primary ?? elsewhere;
    if (!oldPrimary && !promotedByRun) {
      return {
        kind: 'stuck',
        reason: `pooler database(s) ${paused.map((d) => `${d.pooler}/${d.db}`).join(', ')} are paused and no unfinished run explains it; RESUME them by hand if no other operation is running`,
      };
    }
    return {
      kind: 'finish',
      oldPrimary,
      newPrimary: primary.name,
      reason: `${primary.name} is the only writable primary but the switchover did not finish${run}`,
    };
  }
  if (unfinished && !unfinished.promoteRequested) {
    return {
      kind: 'undo-fence',
      oldPrimary: unfinished.primary,
      reason: `no node accepts writes and ${unfinished.target} was never promoted${run}`,
    };
  }
  if (unfinished?.promoteRequested) {
    return {
      kind: 'stuck',
      reason: `promotion of ${unfinished.target} was requested${run} but it is not a writable primary yet: check SELECT pg_is_in_recovery() on ${unfinished.target}; once it is a primary, run this command again to finish`,
    };
  }
  if (paused.length > 0) {
    return {
      kind: 'stuck',
      reason: `no node accepts writes and the pooler is paused, with no journal of this run here; start the old primary or promote a replica (failover), then RESUME`,
    };
  }
  return undefined;
}

interface PooledTarget {
  readonly pooler: string;
  readonly db: string;
  readonly node: string | undefined;
  readonly paused: boolean;
}

function pooledTargets(state: ClusterState): PooledTarget[] {
  return state.poolers.flatMap((router) =>
    router.reachable
      ? router.routes.map((r) => ({
          pooler: router.name,
          db: r.name,
          node: nodeAt(state, r.host, r.port),
          paused: r.paused,
        }))
      : [],
  );
}
