/**
 * The run's held connections: one session per node and one admin console per pooler, opened in
 * parallel. A node that cannot be reached is recorded with its error, not thrown.
 */
import type { Inventory } from '../inventory/model.js';
import { PoolerAdmin } from '../pooler/admin.js';
import { messageOf, NodeSession } from '../postgres/session.js';

export class Connections {
  private constructor(
    readonly inventory: Inventory,
    readonly nodes: Map<string, NodeSession | Error>,
    readonly poolers: Map<string, PoolerAdmin | Error>,
    readonly applicationName: string,
  ) {}

  static async open(inventory: Inventory, applicationName = 'pg-handover'): Promise<Connections> {
    const nodes = new Map<string, NodeSession | Error>();
    const poolers = new Map<string, PoolerAdmin | Error>();
    await Promise.all([
      ...inventory.nodes.map(async (node) => {
        nodes.set(node.name, await NodeSession.open(node.name, node.conn, { applicationName, connectTimeoutMs: 2000 }).catch(asError));
      }),
      ...inventory.poolers.map(async (pooler) => {
        poolers.set(pooler.name, await PoolerAdmin.open(pooler).catch(asError));
      }),
    ]);
    return new Connections(inventory, nodes, poolers, applicationName);
  }

  /** The node's session, reopened when the server dropped it (e.g. a restart). */
  async node(name: string): Promise<NodeSession> {
    const current = this.nodes.get(name);
    if (current instanceof NodeSession && current.isOpen) return current;
    const spec = this.inventory.nodes.find((n) => n.name === name);
    if (!spec) throw new Error(`unknown node ${name}`);
    const session = await NodeSession.open(name, spec.conn, { applicationName: this.applicationName, connectTimeoutMs: 2000 });
    this.nodes.set(name, session);
    return session;
  }

  /** The pooler's admin console, reopened when PgBouncer dropped it (restart, kill). */
  async pooler(name: string): Promise<PoolerAdmin> {
    const current = this.poolers.get(name);
    if (current instanceof PoolerAdmin && current.isOpen) return current;
    const spec = this.inventory.poolers.find((p) => p.name === name);
    if (!spec) throw new Error(`unknown pooler ${name}`);
    const admin = await PoolerAdmin.open(spec);
    this.poolers.set(name, admin);
    return admin;
  }

  async close(): Promise<void> {
    await Promise.all([
      ...[...this.nodes.values()].map((s) => (s instanceof NodeSession ? s.close() : undefined)),
      ...[...this.poolers.values()].map((p) => (p instanceof PoolerAdmin ? p.close() : undefined)),
    ]);
  }
}

const asError = (error: unknown): Error => new Error(messageOf(error).replace(/^[^:]+: /, ''));
