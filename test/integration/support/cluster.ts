/** Observing a sandbox for assertions: roles, upstreams, pooler target, and a comparable snapshot. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Connections } from '../../../src/cluster/connections.js';
import { observeCluster } from '../../../src/cluster/observe.js';
import { nodeAt, type ClusterState } from '../../../src/model/cluster-state.js';
import type { ConnParams } from '../../../src/inventory/model.js';
import { createLoadTable, missingAcknowledged, WriteLoad, type LoadResult } from '../../../src/sandbox/write-load.js';
import { readPidFile, signal, waitGone } from '../../../src/shell/processes.js';
import { sleep } from '../../../src/util/time.js';
import type { SandboxFixture } from './fixtures.js';

export async function observe(sandbox: SandboxFixture): Promise<ClusterState> {
  const connections = await Connections.open(sandbox.inventory, 'pg-handover test');
  try {
    return await observeCluster(connections);
  } finally {
    await connections.close();
  }
}

export interface Topology {
  readonly primaries: string[];
  readonly upstreamOf: Record<string, string | undefined>;
  readonly timelineOf: Record<string, number | undefined>;
  readonly poolerPointsAt: string | undefined;
  readonly poolerPaused: boolean;
  readonly readOnly: string[];
}

export function topology(state: ClusterState): Topology {
  const nodes = state.nodes.filter((n) => n.reachable);
  const pooler = state.poolers[0];
  // PgBouncer's pooled database, or HAProxy's one write backend.
  const db = pooler?.reachable ? (pooler.routes.find((d) => d.name === 'appdb') ?? pooler.routes[0]) : undefined;
  return {
    primaries: nodes.filter((n) => !n.inRecovery).map((n) => n.name),
    upstreamOf: Object.fromEntries(
      nodes
        .filter((n) => n.inRecovery)
        .map((n) => [
          n.name,
          n.walReceiver?.status === 'streaming'
            ? nodeAt(state, n.walReceiver.senderHost, n.walReceiver.senderPort)
            : undefined,
        ]),
    ),
    timelineOf: Object.fromEntries(nodes.map((n) => [n.name, n.timeline])),
    poolerPointsAt: db ? nodeAt(state, db.host, db.port) : undefined,
    poolerPaused: db?.paused ?? false,
    readOnly: nodes.filter((n) => n.settings.default_transaction_read_only === 'on').map((n) => n.name),
  };
}

/** Waits until every replica streams from the one primary (replicas take a moment to attach). */
export async function settledTopology(sandbox: SandboxFixture, timeoutMs = 10_000): Promise<Topology> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = topology(await observe(sandbox));
    const settled = t.primaries.length === 1 && Object.values(t.upstreamOf).every((u) => u === t.primaries[0]);
    if (settled || Date.now() > deadline) return t;
    await sleep(100);
  }
}

/** Everything a dry run must leave exactly as it was. */
export async function snapshot(sandbox: SandboxFixture): Promise<unknown> {
  const state = await observe(sandbox);
  return {
    topology: topology(state),
    nodes: state.nodes.map((n) =>
      n.reachable ? { name: n.name, settings: n.settings, slots: n.slots.map((s) => s.name).sort() } : n,
    ),
    pooler: state.poolers.map((p) => (p.reachable ? p.routes : p)),
    pgbouncerIni: readFileSync(sandbox.manifest.poolers[0]!.configFile, 'utf8'),
    autoConf: sandbox.manifest.nodes.map((n) => readFileSync(join(n.dataDir, 'postgresql.auto.conf'), 'utf8')),
    pids: sandbox.manifest.nodes.map((n) => readFileSync(join(n.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]),
  };
}

export function appConn(sandbox: SandboxFixture): ConnParams {
  return sandbox.inventory.poolers[0]!.app!;
}

export function nodeConn(sandbox: SandboxFixture, name: string, dbname = 'appdb'): ConnParams {
  return { ...sandbox.inventory.nodes.find((n) => n.name === name)!.conn, dbname };
}

export async function sql(conn: ConnParams, text: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({
    host: conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password,
    database: conn.dbname,
  });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

let loads = 0;

export interface LoadOutcome extends LoadResult {
  readonly missing: number;
}

/** Runs `during` under a write load through PgBouncer and counts acknowledged rows lost. */
export async function underLoad<T>(
  sandbox: SandboxFixture,
  during: () => Promise<T>,
  options: { clients?: number; rate?: number; settleMs?: number } = {},
): Promise<{ value: T; load: LoadOutcome }> {
  const table = `load_${++loads}`;
  await createLoadTable(appConn(sandbox), table);
  const load = new WriteLoad({
    conn: appConn(sandbox),
    clients: options.clients ?? 6,
    rate: options.rate ?? 300,
    table,
  });
  load.start();
  await sleep(options.settleMs ?? 500);
  const value = await during();
  await sleep(options.settleMs ?? 500);
  const result = await load.stop();
  const t = topology(await observe(sandbox));
  const primary = t.primaries.find((p) => !t.readOnly.includes(p))!;
  const missing = await missingAcknowledged(nodeConn(sandbox, primary), result.records, table);
  return { value, load: { ...result, missing } };
}

async function waitFor(
  sandbox: SandboxFixture,
  what: string,
  ok: (t: Topology) => boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok(topology(await observe(sandbox)))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** After a restart, a replica reattaches within wal_retrieve_retry_interval (5 s by default). */
export const waitUntilStreaming = (sandbox: SandboxFixture, node: string, upstream: string): Promise<void> =>
  waitFor(sandbox, `${node} streaming from ${upstream}`, (t) => t.upstreamOf[node] === upstream);

export const waitUntilPrimary = (sandbox: SandboxFixture, node: string): Promise<void> =>
  waitFor(sandbox, `${node} to be a primary`, (t) => t.primaries.includes(node));

/** Stops one of the sandbox's PgBouncers by the pid in its pid file. */
export async function stopPooler(sandbox: SandboxFixture, index: number): Promise<void> {
  const pid = readPidFile(sandbox.manifest.poolers[index]!.pidFile)!;
  signal(pid, 'SIGTERM');
  await waitGone([pid], 5000);
}

/**
 * What a built-in playbook promises clients at most: its pause budget (the sum of the holding
 * steps' shares). Tests assert the promise; how short the pause really is belongs to the
 * benchmark (`npm run bench`), which reports medians on a quiet machine.
 */
export async function pauseBudgetMs(procedure: string): Promise<number> {
  const { procedureEntry } = await import('../../../src/procedures/catalog.js');
  const { loadPlaybook } = await import('../../../src/playbook/load.js');
  const { pauseBudgetOf } = await import('../../../src/steps/registry.js');
  const loaded = await procedureEntry(procedure).load();
  return pauseBudgetOf((await loadPlaybook(loaded.defaultPlaybook, loaded.rules)).steps);
}
