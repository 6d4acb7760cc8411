/**
 * The run's held connections: one session per node and one router (with its own held
 * connection) per inventory entry, opened in parallel. A node that cannot be reached is recorded
 * with its error, not thrown; a router keeps its own.
 */
import { inventoryAppRoles, type ConnParams, type Inventory, type NodeSpec } from '../inventory/model.js';
import type { ClusterState } from '../model/cluster-state.js';
import { inDatabase } from '../postgres/logical.js';
import { messageOf, NodeSession, type SessionOptions } from '../postgres/session.js';
import { askWritable, type Writability } from '../postgres/writable.js';
import { openRouter } from '../routers/registry.js';
import type { Router } from '../routers/types.js';
import type { Witnesses } from '../model/witness.js';
import { observeCluster } from './observe.js';
import { askWitnesses } from './witnesses.js';

export class Connections {
  private constructor(
    readonly inventory: Inventory,
    readonly nodes: Map<string, NodeSession | Error>,
    readonly routers: ReadonlyMap<string, Router>,
    readonly applicationName: string,
    /** A failover's witnesses, asked while the nodes were being connected to (cluster/witnesses.ts). */
    readonly witnesses?: Promise<Witnesses | undefined>,
  ) {}

  /**
   * `limits`: a failover asks once, within its detection timeout (a hung server accepts the TCP
   * connection and then never answers); otherwise the DSN's connect_timeout and a few attempts.
   */
  /** `witnessMs`: also ask the failover's witnesses, within that time, as soon as the routers are connected. */
  static async open(
    inventory: Inventory,
    applicationName = 'pg-handover',
    limits: { connectTimeoutMs?: number; attempts?: number; witnessMs?: number } = {},
  ): Promise<Connections> {
    const nodes = new Map<string, NodeSession | Error>();
    const routers = new Map(
      await Promise.all(inventory.poolers.map(async (spec) => [spec.name, await openRouter(spec)] as const)),
    );
    // A failover's witness logins begin now, beside the run's own (most of a witness's time).
    if (limits.witnessMs !== undefined)
      for (const router of routers.values()) router.prepareWitness?.(applicationName, limits.witnessMs);
    const routersReady = Promise.all([...routers.values()].map((router) => router.connect()));
    const witnesses =
      limits.witnessMs === undefined
        ? undefined
        : routersReady
            .then(() => askWitnesses(inventory, [...routers.values()], applicationName, limits.witnessMs!))
            .catch(() => undefined);
    await Promise.all([
      ...inventory.nodes.map(async (node) => {
        const options = {
          applicationName,
          connectTimeoutMs: limits.connectTimeoutMs ?? heldTimeoutMs(node.conn),
          attempts: limits.attempts,
        };
        nodes.set(node.name, await NodeSession.open(node.name, node.conn, options).catch(asError));
      }),
      routersReady,
    ]);
    return new Connections(inventory, nodes, routers, applicationName, witnesses);
  }

  /** The node's session, reopened when the server dropped it (e.g. a restart). */
  async node(name: string): Promise<NodeSession> {
    return this.held(name) ?? this.reopen(name, (conn) => ({ connectTimeoutMs: heldTimeoutMs(conn) }));
  }

  /** The node's session if it answers a new login within `timeoutMs` (one try), kept as its held session; else undefined. */
  async reach(name: string, timeoutMs: number): Promise<NodeSession | undefined> {
    if (!this.inventory.nodes.some((n) => n.name === name)) throw new Error(`unknown node ${name}`);
    return (
      this.held(name) ?? this.reopen(name, () => ({ connectTimeoutMs: timeoutMs, attempts: 1 })).catch(() => undefined)
    );
  }

  /** A new session to `name`, kept as its held one. */
  private async reopen(
    name: string,
    limits: (conn: ConnParams) => Pick<SessionOptions, 'connectTimeoutMs' | 'attempts'>,
  ): Promise<NodeSession> {
    const spec = this.inventory.nodes.find((n) => n.name === name);
    if (!spec) throw new Error(`unknown node ${name}`);
    const session = await NodeSession.open(name, spec.conn, {
      applicationName: this.applicationName,
      ...limits(spec.conn),
    });
    this.nodes.set(name, session);
    return session;
  }

  /** The session held now, without reconnecting. */
  held(name: string): NodeSession | undefined {
    const session = this.nodes.get(name);
    return session instanceof NodeSession && session.isOpen ? session : undefined;
  }

  /** Whether `name` accepts writes, asked on a new connection (postgres/writable.ts). */
  askWritable(
    name: string,
    limits: { attempts: number; connectTimeoutMs: number; queryTimeoutMs: number },
  ): Promise<Writability> {
    const spec = this.inventory.nodes.find((n) => n.name === name);
    if (!spec) throw new Error(`unknown node ${name}`);
    return askWritable(name, spec.conn, {
      applicationName: this.applicationName,
      appRoles: inventoryAppRoles(this.inventory),
      ...limits,
    });
  }

  inDatabase<T>(node: NodeSpec, database: string, use: (session: NodeSession) => Promise<T>): Promise<T> {
    return inDatabase(node, database, use, this.applicationName);
  }

  /** The cluster observed again through these sessions and routers. */
  async observe(): Promise<ClusterState> {
    return observeCluster(this);
  }

  router(name: string): Router {
    const router = this.routers.get(name);
    if (!router) throw new Error(`unknown pooler ${name}`);
    return router;
  }

  async close(): Promise<void> {
    await Promise.all([
      ...[...this.nodes.values()].map((s) => (s instanceof NodeSession ? s.close() : undefined)),
      ...[...this.routers.values()].map((r) => r.close()),
    ]);
  }
}

/** The DSN's connect_timeout when it gives one, else 2 s: short, since held sessions are opened before anything changes. */
const heldTimeoutMs = (conn: ConnParams): number =>
  conn.extra.connect_timeout ? Number(conn.extra.connect_timeout) * 1000 : 2000;

/** The error without the node's name (the observation adds it), keeping its code for classification. */
const asError = (error: unknown): Error =>
  Object.assign(new Error(messageOf(error).replace(/^[^:]+: /, '')), { code: (error as { pgCode?: string }).pgCode });
