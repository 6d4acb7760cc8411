/** Small builders of ClusterState for the pure decision functions. No database involved. */
import type { ClusterState } from '../../../src/model/cluster-state.js';
import type { RouterState } from '../../../src/model/router.js';
import type { PgBouncerSpec } from '../../../src/routers/pgbouncer/spec.js';
import type { Inventory, NodeSpec } from '../../../src/inventory/model.js';
import type { NodeObservation, NodeState } from '../../../src/model/node.js';

const spec = (name: string, port: number, hostAccess = true): NodeSpec => ({
  name,
  conn: { host: '127.0.0.1', port, user: 'handover', dbname: 'postgres', extra: {} },
  dataDir: hostAccess ? `/data/${name}` : undefined,
  logFile: `/data/${name}.log`,
  hostAccess: hostAccess ? { kind: 'local' } : undefined,
});

const pgbouncerSpec: PgBouncerSpec = {
  name: 'pgb',
  kind: 'pgbouncer',
  admin: { host: '127.0.0.1', port: 6432, user: 'admin', dbname: 'pgbouncer', extra: {} },
  configFile: '/p.ini',
  routes: ['appdb'],
};

export const inventory = (hostAccess = true): Inventory => ({
  file: 'inventory.yaml',
  cluster: 'test',
  nodes: [spec('pg1', 5001, hostAccess), spec('pg2', 5002), spec('pg3', 5003)],
  poolers: [pgbouncerSpec],
});

const settings = {
  max_connections: '100',
  max_worker_processes: '8',
  max_wal_senders: '10',
  max_prepared_transactions: '0',
  max_locks_per_transaction: '64',
  hot_standby: 'on',
  default_transaction_read_only: 'off',
  primary_conninfo: '',
  primary_slot_name: '',
  synchronous_standby_names: '',
  cluster_name: '',
  recovery_min_apply_delay: '0',
};

export function primary(name = 'pg1', over: Partial<NodeObservation> = {}): NodeObservation {
  return {
    name,
    reachable: true,
    inRecovery: false,
    systemIdentifier: '7000',
    versionNum: 150010,
    timeline: 1,
    flushLsn: 0x3000000n,
    receiveLsn: undefined,
    replayLsn: undefined,
    replayPaused: false,
    replayAgeMs: undefined,
    isSuperuser: true,
    missingPrivileges: [],
    walReceiver: undefined,
    replication: [],
    slots: [],
    transactions: [],
    preparedXacts: 0,
    settings: { ...settings, cluster_name: name },
    ...over,
  };
}

export function replica(
  name: string,
  upstreamPort = 5001,
  replayLsn = 0x3000000n,
  over: Partial<NodeObservation> = {},
): NodeObservation {
  return {
    ...primary(name),
    inRecovery: true,
    flushLsn: undefined,
    receiveLsn: replayLsn,
    replayLsn,
    walReceiver: {
      status: 'streaming',
      receivedTli: 1,
      flushedLsn: replayLsn,
      senderHost: '127.0.0.1',
      senderPort: upstreamPort,
      slotName: name,
    },
    settings: {
      ...settings,
      cluster_name: name,
      primary_conninfo: `host=127.0.0.1 port=${upstreamPort} user=replicator`,
      primary_slot_name: name,
    },
    ...over,
  };
}

export const pooler = (port = 5001, over: Partial<{ paused: boolean; pool_mode: string }> = {}): RouterState => ({
  name: 'pgb',
  kind: 'pgbouncer',
  reachable: true,
  routes: [{ name: 'appdb', host: '127.0.0.1', port, paused: over.paused ?? false, disabled: false }],
  detail: {
    config: { pool_mode: over.pool_mode ?? 'transaction', query_wait_timeout: '120' },
    fileTargets: { appdb: { host: '127.0.0.1', port } },
    others: [],
    resolved: {},
  },
});

export function cluster(nodes: NodeState[], poolers: RouterState[] = [pooler()], hostAccess = true): ClusterState {
  return { observedAt: 'now', inventory: inventory(hostAccess), nodes, poolers };
}

export const healthyCluster = (): ClusterState =>
  cluster([primary(), replica('pg2'), replica('pg3', 5001, 0x2fff000n)]);

export const clusterWithLaggingReplica = (lagBytes: bigint): ClusterState =>
  cluster([primary(), replica('pg2', 5001, 0x3000000n - lagBytes), replica('pg3', 5001, 0x3000000n - lagBytes * 2n)]);
