/**
 * PgBouncer's admin console. It speaks only the simple query protocol and needs an admin user
 * for PAUSE/RESUME/RELOAD. A PAUSE that outlives its timeout is treated as dead (PgBouncer
 * issue #715): its connection is dropped and RESUME is sent from a fresh one.
 */
import { NodeQueryError, NodeSession } from '../../postgres/session.js';
import type { PoolerDatabase } from './databases.js';
import type { PgBouncerSpec } from './spec.js';

export class PoolerAdmin {
  private constructor(
    readonly spec: PgBouncerSpec,
    private session: NodeSession,
  ) {}

  static async open(spec: PgBouncerSpec, attempts = 3): Promise<PoolerAdmin> {
    return new PoolerAdmin(spec, await openConsole(spec, attempts));
  }

  get name(): string {
    return this.spec.name;
  }

  get isOpen(): boolean {
    return this.session.isOpen;
  }

  async showDatabases(): Promise<PoolerDatabase[]> {
    const rows = await this.session.simple<Record<string, string | number | null>>('SHOW DATABASES');
    return rows.map((row) => ({
      name: String(row.name),
      host: String(row.host ?? ''),
      port: Number(row.port),
      database: String(row.database ?? ''),
      paused: Number(row.paused) === 1,
      disabled: Number(row.disabled) === 1,
    }));
  }

  async showConfig(): Promise<Record<string, string>> {
    const rows = await this.session.simple<{ key: string; value: string }>('SHOW CONFIG');
    return Object.fromEntries(rows.map((row) => [row.key, String(row.value)]));
  }

  /** PAUSE each database; on timeout, abandon the blocked console and resume from a fresh one. */
  async pause(databases: readonly string[], timeoutMs: number): Promise<void> {
    for (const db of databases) {
      try {
        await this.session.simple(`PAUSE ${quoteIdent(db)}`, timeoutMs);
      } catch (error) {
        await this.session.close();
        this.session = await openConsole(this.spec, 3);
        await this.resume(databases).catch(() => undefined);
        throw error instanceof NodeQueryError && error.pgCode === 'timeout'
          ? new NodeQueryError(this.name, `PAUSE ${db} did not finish within ${timeoutMs} ms (a transaction is still running); resumed`, 'timeout')
          : error;
      }
    }
  }

  /** RESUME only the databases that are paused, since RESUME of an unpaused one is an error. */
  async resume(databases: readonly string[]): Promise<string[]> {
    const paused = new Set((await this.showDatabases()).filter((d) => d.paused).map((d) => d.name));
    const resumed: string[] = [];
    for (const db of databases) {
      if (!paused.has(db)) continue;
      await this.session.simple(`RESUME ${quoteIdent(db)}`);
      resumed.push(db);
    }
    return resumed;
  }

  /** RESUME without asking first, for databases this run paused itself; "not paused" is fine. */
  async resumePaused(databases: readonly string[]): Promise<string[]> {
    const resumed: string[] = [];
    for (const db of databases) {
      try {
        await this.session.simple(`RESUME ${quoteIdent(db)}`);
        resumed.push(db);
      } catch (error) {
        if (!/is not paused/.test((error as Error).message)) throw error;
      }
    }
    return resumed;
  }

  async reload(): Promise<void> {
    await this.session.simple('RELOAD');
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}

async function openConsole(spec: PgBouncerSpec, attempts: number): Promise<NodeSession> {
  return NodeSession.open(spec.name, spec.admin, { database: 'pgbouncer', attempts, applicationName: 'pg-handover' });
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
