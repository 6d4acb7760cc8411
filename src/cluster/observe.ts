/** Reads the whole cluster into a ClusterState, every node and router in parallel. */
import { probeBinaries, probeHost, type StreamTarget } from './host-probe.js';
import { askWitnesses } from './witnesses.js';
import { conninfoTowards } from '../postgres/conninfo.js';
import { inventoryAppRoles, peerAddress, type Inventory } from '../inventory/model.js';
import { withDiscovered } from '../inventory/discovered.js';
import { parseConninfo } from '../inventory/dsn.js';
import { resolveHosts } from '../shell/resolve.js';
import { LOCK_KEY } from '../postgres/run-lock.js';
import { observeNode, readReceiver } from '../postgres/observe.js';
import { conninfoModel, silenceOf, type NodeObservation, type NodeState } from '../model/node.js';
import { messageOf, NodeSession } from '../postgres/session.js';
import type { Connections } from './connections.js';
import { isFenced, type ClusterState, type LockHolder, type ReceiversAfter } from '../model/cluster-state.js';
import type { RouterState } from '../model/router.js';

/** `queryTimeoutMs`: a node that does not answer a query within it counts as silent (a failover's detection timeout). */
/** `binDir`: a rolling restart's new binaries (--bin-dir), whose version each node's host is asked too. */
/** `witnessesIfSilent`: ask a failover's witnesses (within this time) only when no writable primary answers (`check`: no cost while all is well). */
/** `hosts: false`: no host probe (the last-seen record after a run needs only what the servers say). */
export async function observeCluster(
  connections: Connections,
  options: {
    queryTimeoutMs?: number;
    startedAt?: number;
    binDir?: string;
    binaries?: boolean;
    hosts?: boolean;
    witnessesIfSilent?: number;
  } = {},
): Promise<ClusterState> {
  const startedAt = options.startedAt ?? performance.now();
  const [nodes, poolers] = await Promise.all([
    Promise.all(
      connections.inventory.nodes.map(async (node): Promise<NodeState> => {
        const session = connections.nodes.get(node.name);
        if (!(session instanceof NodeSession)) {
          const error = session?.message ?? 'not connected';
          return {
            name: node.name,
            reachable: false,
            error,
            silence: silenceOf((session as { code?: string } | undefined)?.code, error),
          };
        }
        try {
          return await observeNode(node, session, options.queryTimeoutMs, appRolesOf(connections.inventory));
        } catch (error) {
          return {
            name: node.name,
            reachable: false,
            error: messageOf(error),
            silence: silenceOf((error as { pgCode?: string }).pgCode, messageOf(error)),
          };
        }
      }),
    ),
    Promise.all([...connections.routers.values()].map((router) => router.observe())),
  ]);
  const acted = nodes.filter((n): n is NodeObservation => n.reachable && !n.inRecovery && !isFenced(n));
  // Discover, don't ask: a node's data directory as its server reports it, unless the inventory says.
  const withDataDirs = withDiscovered(
    connections.inventory,
    Object.fromEntries(nodes.flatMap((n) => (n.reachable ? [[n.name, { dataDir: n.settings.data_directory }]] : []))),
  );
  // Side by side, not one after the other: observation comes before every run and every check.
  const [lockHolder, addresses, hosts, binaries] = await Promise.all([
    findLockHolder(connections, nodes, connections.applicationName),
    resolveHosts(hostsSeen(withDataDirs, nodes, poolers)),
    Promise.all(
      (options.hosts === false ? [] : acted).map((n) =>
        probeHost(
          withDataDirs.nodes.find((s) => s.name === n.name)!,
          n.settings.data_directory,
          streamTargets(withDataDirs, nodes),
        ),
      ),
    ),
    Promise.all(
      withDataDirs.nodes.map(async (spec) => {
        const node = nodes.find((n) => n.name === spec.name);
        return [
          spec.name,
          node?.reachable && options.binaries !== false ? await probeBinaries(spec, options.binDir) : undefined,
        ] as const;
      }),
    ),
  ]);
  const inventory = withDiscovered(
    withDataDirs,
    Object.fromEntries(hosts.map((h) => [h.node, { binDir: h.binDir, logFile: h.logFile }])),
  );
  const said = (name: string) => {
    const named = connections.inventory.nodes.find((n) => n.name === name)!;
    const used = inventory.nodes.find((n) => n.name === name)!;
    return [
      ...(!named.dataDir && used.dataDir ? [`data_dir ${used.dataDir} (SHOW data_directory)`] : []),
      ...(!named.binDir && used.binDir ? [`bin_dir ${used.binDir} (postmaster.opts)`] : []),
      ...(!named.logFile && used.logFile && hosts.find((h) => h.node === name)?.logFile
        ? [`log_file ${used.logFile} (where its output goes now)`]
        : []),
    ];
  };
  // A node was silent: ask the replicas again, now that its silence has lasted the whole probe.
  const askNow =
    options.witnessesIfSilent !== undefined &&
    !connections.witnesses &&
    acted.length === 0 &&
    nodes.some((n) => !n.reachable);
  const [receiversAfter, witnesses] = await Promise.all([
    nodes.some((n) => !n.reachable) ? receiversNow(connections, nodes, startedAt, options.queryTimeoutMs) : undefined,
    askNow
      ? askWitnesses(
          connections.inventory,
          [...connections.routers.values()],
          connections.applicationName,
          options.witnessesIfSilent!,
        ).catch(() => undefined)
      : connections.witnesses,
  ]);
  return {
    observedAt: new Date().toISOString(),
    inventory,
    nodes,
    poolers,
    lockHolder,
    addresses,
    hosts: hosts.map((h) => ({ ...h, discovered: said(h.node) })),
    receiversAfter,
    witnesses,
    binaries: Object.fromEntries(
      binaries.filter((b): b is readonly [string, NonNullable<(typeof b)[1]>] => b[1] !== undefined),
    ),
  };
}

async function receiversNow(
  connections: Connections,
  nodes: readonly NodeState[],
  startedAt: number,
  timeoutMs = 2000,
): Promise<ReceiversAfter> {
  const replicas = nodes.filter((n): n is NodeObservation => n.reachable && n.inRecovery);
  const views = await Promise.all(
    replicas.map(async (n) => {
      const session = connections.nodes.get(n.name);
      const view =
        session instanceof NodeSession ? await readReceiver(session, timeoutMs).catch(() => undefined) : undefined;
      return [n.name, view] as const;
    }),
  );
  return {
    sinceProbeMs: performance.now() - startedAt,
    byNode: Object.fromEntries(
      views.flatMap(([name, view]) => (view ? [[name, { receiver: view.receiver, receiveLsn: view.receiveLsn }]] : [])),
    ),
  };
}

/** Each replica a former primary may follow, with the primary_conninfo it would get: the first replica's, pointed there. */
function streamTargets(inventory: Connections['inventory'], nodes: readonly NodeState[]): StreamTarget[] {
  const replicas = nodes.filter((n): n is NodeObservation => n.reachable && n.inRecovery);
  const template = conninfoModel(nodes.filter((n): n is NodeObservation => n.reachable))?.settings.primary_conninfo;
  if (!template) return [];
  try {
    parseConninfo(template);
  } catch {
    return [];
  }
  return replicas.map((r) => ({
    name: r.name,
    conninfo: conninfoTowards(template, peerAddress(inventory.nodes.find((s) => s.name === r.name)!)),
  }));
}

function hostsSeen(
  inventory: Connections['inventory'],
  nodes: readonly NodeState[],
  poolers: readonly RouterState[],
): string[] {
  return [
    ...new Set([
      ...inventory.nodes.map((n) => n.conn.host),
      ...inventory.nodes.flatMap((n) => (n.connectAddress ? [n.connectAddress.host] : [])),
      ...nodes.flatMap((n) => (n.reachable && n.walReceiver?.senderHost ? [n.walReceiver.senderHost] : [])),
      ...poolers.flatMap((p) => (p.reachable ? p.routes.map((r) => r.host) : [])),
    ]),
  ].filter((host) => host !== '');
}

/** Looks on every primary for another session holding the pg-handover advisory lock. */
async function findLockHolder(
  connections: Connections,
  nodes: NodeState[],
  own: string,
): Promise<LockHolder | undefined> {
  const holders = await Promise.all(
    nodes.map(async (node) => {
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
    }),
  );
  return holders.find((holder) => holder !== undefined);
}

/** The role fence's candidates: the inventory's app_roles, else the poolers' application logins. */
const appRolesOf = (inventory: Inventory) => ({
  ...(inventory.appRoles ? { declared: inventory.appRoles } : {}),
  poolerLogins: inventory.appRoles ? [] : inventoryAppRoles(inventory),
});
