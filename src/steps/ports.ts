/**
 * The ports a step acts through: SQL on a node, the routers, a fresh writability probe, and (via
 * StepContext.host) commands on a node's host. cluster/connections.ts implements them over real
 * sessions; unit tests pass fakes, so the effects that keep the invariants are tested in
 * milliseconds (test/unit/step-effects.test.ts).
 */
import type { ClusterState } from '../model/cluster-state.js';
import type { NodeSpec } from '../inventory/model.js';
import type { Router } from '../routers/types.js';

/** SQL on one node, over the run's held session (postgres/session.ts's NodeSession). */
export interface NodeSql {
  readonly isOpen: boolean;
  query<Row extends object = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    timeoutMs?: number,
  ): Promise<Row[]>;
  one<Row extends object = Record<string, unknown>>(sql: string, params?: unknown[], timeoutMs?: number): Promise<Row>;
}

import type { Writability } from '../model/writability.js';

export type { Writability };

export interface WritableLimits {
  readonly attempts: number;
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
}

export interface ClusterPorts {
  readonly applicationName: string;
  /** The node's session, reopened when the server dropped it; throws when it cannot be reached. */
  node(name: string): Promise<NodeSql>;
  /** The session held now, without reconnecting (undefined: none, or it failed). */
  held(name: string): NodeSql | undefined;
  /** The node's session if it answers a login within `timeoutMs` (one try), else undefined: a failover's old primary that may still answer. */
  reach(name: string, timeoutMs: number): Promise<NodeSql | undefined>;
  router(name: string): Router;
  /** A session to another database on `node` for one use (a major upgrade's per-database work), closed after. */
  inDatabase<T>(node: NodeSpec, database: string, use: (session: NodeSql) => Promise<T>): Promise<T>;
  /** The cluster observed again through the held sessions and routers (preflight's second look). */
  observe(): Promise<ClusterState>;
  /** Asked on a new connection (an old session can be served while the postmaster hangs); throws when it does not answer. */
  askWritable(name: string, limits: WritableLimits): Promise<Writability>;
}
