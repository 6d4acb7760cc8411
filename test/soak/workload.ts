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
  /** What the client was told, when not acknowledged. */
  error?: string;
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
  /** The set checker each iteration runs (the final check reads every row: checkSet). */
  readonly setChecker = new SetChecker();
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

  /** The distinct messages of those attempts, most frequent first, as "N× message" (at most `top`). */
  errorMessagesBetween(from: number, to: number, top = 3): string[] {
    const seen = new Map<string, number>();
    for (const a of this.attempts.values())
      if (a.sentAt >= from && a.sentAt <= to && a.outcome && a.outcome !== 'acknowledged') {
        const message = `${a.outcome}: ${a.error ?? '?'}`;
        seen.set(message, (seen.get(message) ?? 0) + 1);
      }
    return [...seen.entries()]
      .sort((x, y) => y[1] - x[1])
      .slice(0, top)
      .map(([message, n]) => `${n}× ${message}`);
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
        attempt.error = (error as Error).message.slice(0, 160);
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

/** count, sum and a hash sum of a range of ids: equal digests of a set that can only shrink mean the same set. */
interface Digest {
  readonly count: number;
  readonly sum: bigint;
  readonly hashSum: bigint;
}
const DIGEST_SQL = `SELECT count(*)::int AS count, coalesce(sum(id), 0)::text AS sum, coalesce(sum(hashint8(id)::bigint), 0)::text AS hash FROM ${SOAK_TABLE} WHERE id > $1 AND id <= $2`;
const digestOf = (row: { count: number; sum: string; hash: string }): Digest => ({
  count: row.count,
  sum: BigInt(row.sum),
  hashSum: BigInt(row.hash),
});
const sameDigest = (a: Digest, b: Digest) => a.count === b.count && a.sum === b.sum && a.hashSum === b.hashSum;

/**
 * The set checker, kept fast as the table grows (an hour's soak writes half a million ids): ids up
 * to a mark, all of whose attempts had ended when it was checked in full, can no longer be added,
 * only lost; so they are checked by a digest (count, sum, hash sum) against what was verified, and
 * only newer ids row by row. A digest that differs sends that check back to the full one, which
 * names the ids. Every check reads one snapshot.
 */
export class SetChecker {
  /** Ids in (0, mark] were verified id by id; `verified` is their digest then. */
  private mark = 0;
  private verified: Digest = { count: 0, sum: 0n, hashSum: 0n };
  private checks = 0;
  /** Every this many checks, one reads every row anyway (the digest's own check). */
  constructor(private readonly fullEvery = 50) {}

  async check(
    primary: ConnParams,
    attempts: ReadonlyMap<number, Attempt>,
  ): Promise<{ lost: number[]; unexpected: number[]; present: number; full: boolean }> {
    // Ids whose attempts have all ended (taken before the read: a later commit may miss its snapshot).
    let settledUpTo = 0;
    for (const a of attempts.values()) {
      if (a.outcome === undefined) break;
      settledUpTo = a.id;
    }
    const acknowledged = [...attempts.values()].filter((a) => a.outcome === 'acknowledged').map((a) => a.id);
    const c = client(primary);
    await c.connect();
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const old = digestOf((await c.query(DIGEST_SQL, [0, this.mark])).rows[0]);
      const full = !sameDigest(old, this.verified) || ++this.checks % this.fullEvery === 0;
      const from = full ? 0 : this.mark;
      const rows = await c.query<{ id: string }>(`SELECT id FROM ${SOAK_TABLE} WHERE NOT (id > 0 AND id <= $1)`, [
        from,
      ]);
      const present = new Set(rows.rows.map((r) => Number(r.id)));
      const lost = acknowledged.filter((id) => id > from && !present.has(id));
      const unexpected = [...present].filter((id) => !attempts.has(id));
      // What is there now up to the new mark becomes the verified digest.
      const mark = Math.max(this.mark, settledUpTo);
      const grown = digestOf((await c.query(DIGEST_SQL, [full ? 0 : this.mark, mark])).rows[0]);
      this.verified = full
        ? grown
        : {
            count: this.verified.count + grown.count,
            sum: this.verified.sum + grown.sum,
            hashSum: this.verified.hashSum + grown.hashSum,
          };
      this.mark = mark;
      await c.query('COMMIT');
      return { lost, unexpected, present: (full ? 0 : old.count) + present.size, full };
    } finally {
      await c.end();
    }
  }
}
