/**
 * PgBouncer's admin console. It speaks only the simple query protocol and needs an admin user
 * for PAUSE/RESUME/RELOAD. A PAUSE that outlives its timeout is treated as dead (PgBouncer
 * issue #715): its connection is dropped and RESUME is sent from a fresh one.
 */
import { NodeQueryError, NodeSession } from '../../postgres/session.js';
import { within } from '../../util/time.js';
import type { PoolerDatabase } from './databases.js';
import type { PgBouncerSpec } from './spec.js';
import { quoteIdent, quoteLiteral } from '../../postgres/sql.js';

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

  async showDatabases(timeoutMs = 10_000): Promise<PoolerDatabase[]> {
    const rows = await this.session.simple<Record<string, string | number | null>>('SHOW DATABASES', timeoutMs);
    return rows.map((row) => ({
      name: String(row.name),
      host: String(row.host ?? ''),
      port: Number(row.port),
      database: String(row.database ?? ''),
      paused: Number(row.paused) === 1,
      disabled: Number(row.disabled) === 1,
    }));
  }

  async showConfig(timeoutMs = 10_000): Promise<Record<string, string>> {
    const rows = await this.session.simple<{ key: string; value: string }>('SHOW CONFIG', timeoutMs);
    return Object.fromEntries(rows.map((row) => [row.key, String(row.value)]));
  }

  /** PAUSE each database; on timeout, abandon the blocked console and resume from a fresh one. */
  async pause(databases: readonly string[], timeoutMs: number): Promise<void> {
    for (const db of databases) {
      try {
        await this.session.simple(`PAUSE ${quoteIdent(db)}`, timeoutMs);
      } catch (error) {
        await this.session.close();
        // Within pause_timeout, not after it: a frozen PgBouncer would hold the other poolers'
        // clients for as long as a fresh console takes to give up (seen: 10 s against 5 s). One
        // attempt, bounded; the rollback's release asks again.
        const opening = openConsole(this.spec, 1, 1000);
        const fresh = await within(
          opening.then(
            (s) => s,
            () => undefined,
          ),
          1500,
          undefined,
        );
        if (fresh) {
          this.session = fresh;
          await within(
            this.resume(databases).catch(() => undefined),
            1000,
            undefined,
          );
        } else {
          void opening.then(
            (late) => late.close(),
            () => undefined,
          ); // never left open behind the run
        }
        throw error instanceof NodeQueryError && error.pgCode === 'timeout'
          ? new NodeQueryError(
              this.name,
              `PAUSE ${db} did not finish within ${timeoutMs} ms (a transaction is still running); resumed`,
              'timeout',
            )
          : error;
      }
    }
  }

  /**
   * A failover's fence: PAUSE each database within `timeoutMs`; where that cannot finish (server
   * connections stuck on a hung primary), KILL them all from a fresh console. KILL drops the
   * database's server and client connections and leaves it paused: new clients wait for RESUME.
   */
  async pauseOrKill(databases: readonly string[], timeoutMs: number): Promise<'paused' | 'killed'> {
    if (timeoutMs <= 0) {
      for (const db of databases) await this.session.simple(`KILL ${quoteIdent(db)}`);
      return 'killed';
    }
    const deadline = performance.now() + timeoutMs;
    try {
      for (const db of databases)
        await this.session.simple(`PAUSE ${quoteIdent(db)}`, Math.max(1, deadline - performance.now()));
      return 'paused';
    } catch (error) {
      if (!(error instanceof NodeQueryError && error.pgCode === 'timeout')) throw error;
      // The blocked PAUSE holds this console; a RESUME or KILL next to it could hang (#715).
      await this.session.close();
      this.session = await openConsole(this.spec, 3);
      for (const db of databases) await this.session.simple(`KILL ${quoteIdent(db)}`);
      return 'killed';
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

  async set(key: string, value: string): Promise<void> {
    await this.session.simple(`SET ${key} = ${/^[0-9.]+$/.test(value) ? value : quoteLiteral(value)}`);
  }

  /** SHOW POOLS, per pool: clients waiting, server connections logged in (any state), and those still logging in. */
  private async pools(
    timeoutMs = 10_000,
  ): Promise<Array<{ database: string; user: string; waiting: number; servers: number; loggingIn: number }>> {
    const rows = await this.session.simple<Record<string, string | number>>('SHOW POOLS', timeoutMs);
    return rows.map((row) => ({
      database: String(row.database),
      user: String(row.user),
      waiting: Number(row.cl_waiting ?? 0),
      loggingIn: Number(row.sv_login ?? 0),
      servers: ['sv_active', 'sv_idle', 'sv_used', 'sv_tested'].reduce((sum, k) => sum + Number(row[k] ?? 0), 0),
    }));
  }

  /** Server connections per database (any state but logging in): a login to its server has succeeded. */
  async serverCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const pool of await this.pools()) counts[pool.database] = (counts[pool.database] ?? 0) + pool.servers;
    return counts;
  }

  /** One pool (database, user): clients waiting, and server connections in any state, logging in included. */
  async pool(database: string, user: string): Promise<{ waiting: number; servers: number } | undefined> {
    const found = (await this.pools(2000)).find((p) => p.database === database && p.user === user);
    return found && { waiting: found.waiting, servers: found.servers + found.loggingIn };
  }

  async reload(): Promise<void> {
    await this.session.simple('RELOAD');
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}

async function openConsole(spec: PgBouncerSpec, attempts: number, connectTimeoutMs?: number): Promise<NodeSession> {
  return NodeSession.open(spec.name, spec.admin, {
    database: 'pgbouncer',
    attempts,
    applicationName: 'pg-handover',
    connectTimeoutMs,
  });
}
