/**
 * The soak's workload: clients inserting unique ids through the production path (a pooler), each
 * attempt recorded as acknowledged, failed (refused before the commit could happen) or
 * indeterminate (the connection died while the commit was in flight: it may or may not be there).
 * The set checker (Patroni's Jepsen suite): lost = acknowledged but absent; unexpected = present
 * but never attempted.
 */
import pg from 'pg';
import type { ConnParams } from '../../src/inventory/model.js';
import { sleep } from '../../src/util/time.js';

export const SOAK_TABLE = 'soak_ids';

export type Outcome = 'acknowledged' | 'failed' | 'indeterminate';

export interface Attempt {
  readonly id: number;
  readonly client: number;
  readonly sentAt: number;
  doneAt?: number;
  outcome?: Outcome;
}

const client = (conn: ConnParams) =>
  new pg.Client({
    host: conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password,
    database: conn.dbname,
    connectionTimeoutMillis: 5000,
  });

/** An error raised after the INSERT was sent on a live connection may hide a commit that happened. */
const inFlight = (message: string): boolean =>
  /terminat|ECONNRESET|Connection terminated|server closed|EPIPE|socket hang up|57P01|shutdown/i.test(message);

export class SoakWorkload {
  readonly attempts = new Map<number, Attempt>();
  /** Acknowledged ids found missing so far (each reported once, by the iteration that lost it). */
  readonly knownLost = new Set<number>();
  /** Of those, the ones a failover of a dead or hung primary lost (asynchronous replication). */
  readonly lostToFailovers: number[] = [];
  private nextId = 1;
  private stopping = false;
  private runners: Promise<void>[] = [];
  private readonly t0 = performance.now();

  constructor(
    private readonly conns: readonly ConnParams[],
    private readonly clients = 4,
    private readonly perClientIntervalMs = 20,
  ) {}

  static async prepare(conn: ConnParams): Promise<void> {
    const c = client(conn);
    await c.connect();
    try {
      await c.query(`CREATE TABLE IF NOT EXISTS ${SOAK_TABLE} (id bigint PRIMARY KEY, client int NOT NULL)`);
    } finally {
      await c.end();
    }
  }

  now(): number {
    return performance.now() - this.t0;
  }

  start(): void {
    this.runners = Array.from({ length: this.clients }, (_, i) => this.run(i));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.runners);
  }

  /** The longest stretch without an acknowledged commit, over all clients, within [from, to]. */
  longestGapMs(from: number, to: number): number {
    // Linear in the attempts: an hour's soak makes hundreds of thousands of them.
    const byClient = new Map<number, number[]>();
    for (const a of this.attempts.values()) {
      if (a.outcome !== 'acknowledged' || a.doneAt === undefined || a.doneAt <= from || a.doneAt >= to) continue;
      const times = byClient.get(a.client);
      if (times) times.push(a.doneAt);
      else byClient.set(a.client, [a.doneAt]);
    }
    let longest = 0;
    // A client with no acknowledged commit in the window waited all of it.
    for (let client = 0; client < this.clients; client++) if (!byClient.has(client)) byClient.set(client, []);
    for (const times of byClient.values()) {
      const inside = [from, ...times.sort((x, y) => x - y), to];
      for (let i = 1; i < inside.length; i++) longest = Math.max(longest, inside[i]! - inside[i - 1]!);
    }
    return longest;
  }

  /** Attempts sent within [from, to] that were not acknowledged (failed or indeterminate). */
  errorsBetween(from: number, to: number): number {
    let n = 0;
    for (const a of this.attempts.values())
      if (a.sentAt >= from && a.sentAt <= to && a.outcome && a.outcome !== 'acknowledged') n++;
    return n;
  }

  counts(): Record<Outcome | 'pending', number> {
    const counts = { acknowledged: 0, failed: 0, indeterminate: 0, pending: 0 };
    for (const a of this.attempts.values()) counts[a.outcome ?? 'pending']++;
    return counts;
  }

  private async run(index: number): Promise<void> {
    // Clients spread over the poolers, as behind a load balancer.
    const conn = this.conns[index % this.conns.length]!;
    let c: pg.Client | undefined;
    while (!this.stopping) {
      const attempt: Attempt = { id: this.nextId++, client: index, sentAt: this.now() };
      this.attempts.set(attempt.id, attempt);
      let sent = false;
      try {
        if (!c) {
          c = client(conn);
          c.on('error', () => undefined);
          await c.connect();
        }
        sent = true;
        await c.query(`INSERT INTO ${SOAK_TABLE} (id, client) VALUES ($1, $2)`, [attempt.id, index]);
        attempt.outcome = 'acknowledged';
      } catch (error) {
        attempt.outcome = sent && inFlight((error as Error).message) ? 'indeterminate' : 'failed';
        await c?.end().catch(() => undefined);
        c = undefined;
        await sleep(20);
      }
      attempt.doneAt = this.now();
      await sleep(this.perClientIntervalMs);
    }
    await c?.end().catch(() => undefined);
  }
}

/** The set checker over what the primary holds now. */
export async function checkSet(
  primary: ConnParams,
  attempts: ReadonlyMap<number, Attempt>,
): Promise<{ lost: number[]; unexpected: number[]; present: number }> {
  const c = client(primary);
  await c.connect();
  try {
    // Only what was acknowledged before the read began: a commit acknowledged while the SELECT
    // runs may be newer than its snapshot.
    const acknowledged = [...attempts.values()].filter((a) => a.outcome === 'acknowledged').map((a) => a.id);
    const rows = await c.query<{ id: string }>(`SELECT id FROM ${SOAK_TABLE}`);
    const present = new Set(rows.rows.map((r) => Number(r.id)));
    const lost = acknowledged.filter((id) => !present.has(id));
    const unexpected = [...present].filter((id) => !attempts.has(id));
    return { lost, unexpected, present: present.size };
  } finally {
    await c.end();
  }
}
