/** Reads the whole cluster into a ClusterState, every node and pooler in parallel. */
import { LOCK_KEY } from '../postgres/run-lock.js';
import { readDatabaseTargets } from '../pooler/config-file.js';
import { observeNode, type NodeState } from '../postgres/observe.js';
import { messageOf, NodeSession } from '../postgres/session.js';
import { PoolerAdmin } from '../pooler/admin.js';
import type { Connections } from './connections.js';
import type { ClusterState, LockHolder, PoolerState } from './state.js';

export async function observeCluster(connections: Connections): Promise<ClusterState> {
  const inventory = connections.inventory;
  const [nodes, poolers] = await Promise.all([
    Promise.all(inventory.nodes.map(async (node): Promise<NodeState> => {
      const session = connections.nodes.get(node.name);
      if (!(session instanceof NodeSession)) return { name: node.name, reachable: false, error: session?.message ?? 'not connected' };
      try {
        return await observeNode(node, session);
      } catch (error) {
        return { name: node.name, reachable: false, error: messageOf(error) };
      }
    })),
    Promise.all(inventory.poolers.map(async (spec): Promise<PoolerState> => {
      const admin = connections.poolers.get(spec.name);
      if (!(admin instanceof PoolerAdmin)) return { name: spec.name, reachable: false, error: admin?.message ?? 'not connected' };
      try {
        const [databases, config] = [await admin.showDatabases(), await admin.showConfig()];
        let fileTargets: Record<string, { host?: string; port?: number }> = {};
        let fileError: string | undefined;
        try {
          fileTargets = Object.fromEntries(await readDatabaseTargets(spec.configFile));
        } catch (error) {
          fileError = `cannot read ${spec.configFile}: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}`;
        }
        return { name: spec.name, reachable: true, databases, config, fileTargets, fileError };
      } catch (error) {
        return { name: spec.name, reachable: false, error: messageOf(error) };
      }
    })),
  ]);
  const lockHolder = await findLockHolder(connections, nodes, connections.applicationName);
  return { observedAt: new Date().toISOString(), inventory, nodes, poolers, lockHolder };
}

/** Looks on every primary for another session holding the pg-handover advisory lock. */
async function findLockHolder(connections: Connections, nodes: NodeState[], own: string): Promise<LockHolder | undefined> {
  const holders = await Promise.all(nodes.map(async (node) => {
    const session = node.reachable ? connections.nodes.get(node.name) : undefined;
    if (!(session instanceof NodeSession)) return undefined;
    const rows = await session
      .query<{ application_name: string; pid: number; since: string }>(
        `SELECT a.application_name, a.pid, coalesce(a.backend_start::text, '') AS since
           FROM pg_locks l JOIN pg_stat_activity a USING (pid)
          WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.granted AND a.application_name <> $3`,
        [LOCK_KEY.classId, LOCK_KEY.objId, own],
      )
      .catch(() => []);
    const row = rows[0];
    return row ? { applicationName: row.application_name, pid: row.pid, since: row.since } : undefined;
  }));
  return holders.find((holder) => holder !== undefined);
}
