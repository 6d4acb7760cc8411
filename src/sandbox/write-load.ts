/**
 * A write load through the pooler that records every commit's client-side time and outcome, so
 * a switchover can be judged from the application's side: gaps, errors, lost acknowledged rows.
 */
import pg from 'pg';
import type { ConnParams } from '../inventory/model.js';
import { sleep } from '../util/time.js';

export interface CommitRecord {
  readonly client: number;
  readonly seq: number;
  /** ms since the load started, when the commit was sent and when it was answered. */
  readonly sentAt: number;
  readonly doneAt: number;
  readonly ok: boolean;
  readonly error?: string;
}

export interface LoadOptions {
  /** Several (one per pooler): client i connects through conn[i % length]. */
  readonly conn: ConnParams | readonly ConnParams[];
  readonly clients?: number;
  /** Total commits per second across all clients. */
  readonly rate?: number;
  readonly table?: string;
}

export interface LoadResult {
  readonly records: readonly CommitRecord[];
  readonly startedAtEpochMs: number;
  readonly acknowledged: number;
  readonly errors: number;
}

export const LOAD_TABLE = 'handover_load';

export async function createLoadTable(conn: ConnParams, table = LOAD_TABLE): Promise<void> {
  const client = newClient(conn);
  await client.connect();
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${table} (client int NOT NULL, seq int NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (client, seq))`,
    );
  } finally {
    await client.end();
  }
}

export class WriteLoad {
  private stopping = false;
  private readonly records: CommitRecord[] = [];
  private runners: Promise<void>[] = [];
  private startedAt = 0;
  private startedAtEpochMs = 0;

  constructor(private readonly options: LoadOptions) {}

  start(): void {
    const clients = this.options.clients ?? 4;
    const perClientIntervalMs = (1000 * clients) / (this.options.rate ?? 200);
    this.startedAt = performance.now();
    this.startedAtEpochMs = Date.now();
    this.runners = Array.from({ length: clients }, (_, i) => this.runClient(i, perClientIntervalMs));
  }

  /** ms since start, for marking events on the same clock as the records. */
  elapsed(): number {
    return performance.now() - this.startedAt;
  }

  async stop(): Promise<LoadResult> {
    this.stopping = true;
    await Promise.all(this.runners);
    const acknowledged = this.records.filter((r) => r.ok).length;
    return {
      records: [...this.records],
      startedAtEpochMs: this.startedAtEpochMs,
      acknowledged,
      errors: this.records.length - acknowledged,
    };
  }

  private connFor(id: number): ConnParams {
    const conns: readonly ConnParams[] = Array.isArray(this.options.conn)
      ? (this.options.conn as readonly ConnParams[])
      : [this.options.conn as ConnParams];
    return conns[id % conns.length]!;
  }

  private async runClient(id: number, intervalMs: number): Promise<void> {
    const table = this.options.table ?? LOAD_TABLE;
    let client: pg.Client | undefined;
    let seq = 0;
    let next = performance.now() + Math.random() * intervalMs;
    while (!this.stopping) {
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      next += intervalMs;
      if (next < performance.now() - 1000) next = performance.now(); // do not burst after a long stall
      seq++;
      const sentAt = this.elapsed();
      try {
        if (!client) {
          client = newClient(this.connFor(id));
          client.on('error', () => undefined);
          await client.connect();
        }
        await client.query(`INSERT INTO ${table} (client, seq) VALUES ($1, $2)`, [id, seq]);
        this.records.push({ client: id, seq, sentAt, doneAt: this.elapsed(), ok: true });
      } catch (error) {
        this.records.push({
          client: id,
          seq,
          sentAt,
          doneAt: this.elapsed(),
          ok: false,
          error: (error as Error).message,
        });
        await client?.end().catch(() => undefined);
        client = undefined;
      }
    }
    await client?.end().catch(() => undefined);
  }
}

export const recordKey = (r: Pick<CommitRecord, 'client' | 'seq'>): string => `${r.client}/${r.seq}`;

/** Keys of acknowledged rows that are not in the table on `conn` (the current primary). */
export async function missingAcknowledgedKeys(
  conn: ConnParams,
  records: readonly CommitRecord[],
  table = LOAD_TABLE,
): Promise<Set<string>> {
  const client = newClient(conn);
  await client.connect();
  try {
    const rows = await client.query<{ client: number; seq: number }>(`SELECT client, seq FROM ${table}`);
    const present = new Set(rows.rows.map(recordKey));
    return new Set(records.filter((r) => r.ok && !present.has(recordKey(r))).map(recordKey));
  } finally {
    await client.end();
  }
}

export async function missingAcknowledged(
  conn: ConnParams,
  records: readonly CommitRecord[],
  table = LOAD_TABLE,
): Promise<number> {
  return (await missingAcknowledgedKeys(conn, records, table)).size;
}

/**
 * The longest time any client went without a successful commit, and when it started; with a
 * window, only gaps that overlap [from, to] on the load's clock count.
 */
export function longestGap(
  records: readonly CommitRecord[],
  from = -Infinity,
  to = Infinity,
): { gapMs: number; fromMs: number } {
  const byClient = new Map<number, number[]>();
  for (const record of records) {
    if (!record.ok) continue;
    const list = byClient.get(record.client) ?? [];
    list.push(record.doneAt);
    byClient.set(record.client, list);
  }
  let best = { gapMs: 0, fromMs: Number.isFinite(from) ? from : 0 };
  for (const times of byClient.values()) {
    times.sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) {
      const start = times[i - 1]!;
      const gap = times[i]! - start;
      if (times[i]! >= from && start <= to && gap > best.gapMs) best = { gapMs: gap, fromMs: start };
    }
  }
  return best;
}

function newClient(conn: ConnParams): pg.Client {
  return new pg.Client({
    host: conn.host,
    port: conn.port,
    user: conn.user,
    database: conn.dbname,
    password: conn.password,
    application_name: 'pg-handover-load',
    connectionTimeoutMillis: 10_000,
  });
}
