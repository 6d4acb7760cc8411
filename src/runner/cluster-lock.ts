/** One run at a time per cluster: the advisory lock taken on every reachable node (postgres/run-lock.ts). */
import { PreflightRefusedError } from '../errors.js';
import type { ClusterState } from '../model/cluster-state.js';
import { tryLock } from '../postgres/run-lock.js';
import type { ClusterPorts, NodeSql } from '../steps/ports.js';

/**
 * The cluster lock, on every reachable node: the old primary stops at the fence, but the target
 * and the other replicas survive it, so a run started from another machine inside the pause
 * still sees the lock and refuses.
 */
export async function takeLock(connections: ClusterPorts, state: ClusterState, locked: NodeSql[]): Promise<void> {
  const reachable = state.nodes.filter((n) => n.reachable).map((n) => n.name);
  const results = await Promise.all(
    reachable.map(async (name) => {
      try {
        const session = await connections.node(name);
        return { name, session, ok: await tryLock(session) };
      } catch (error) {
        return { name, lost: error as Error };
      }
    }),
  );
  locked.push(...results.flatMap((r) => ('ok' in r && r.ok ? [r.session] : [])));
  // A node that answered the observation and not the lock changed under the run before it began
  // (found by the soak, seed 20261203, iteration 163: a replica SIGKILLed then made exit 1).
  for (const r of results)
    if ('lost' in r && r.lost)
      throw new PreflightRefusedError(
        `nodes-reachable: ${r.name} stopped answering between the observation and the cluster lock (${r.lost.message}); nothing was changed: run again`,
      );
  const refused = results.find((r) => 'ok' in r && !r.ok);
  if (refused) {
    const holder = (await connections.observe().catch(() => state)).lockHolder ?? state.lockHolder;
    throw new PreflightRefusedError(
      `no-other-run: another pg-handover run holds the cluster lock on ${refused.name}${holder ? `: "${holder.applicationName}" (backend pid ${holder.pid})` : ''}`,
    );
  }
}
