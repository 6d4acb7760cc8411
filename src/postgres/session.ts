/**
 * A held connection to one node. The tool keeps these open for the whole run so that the
 * critical path costs round trips, not connection set-up. Errors name the node and are redacted.
 */
import pg from 'pg';
import type { ConnParams } from '../inventory/model.js';
import { sleep } from '../util/time.js';
import { messageOf, NodeQueryError } from './errors.js';

export { messageOf, NodeQueryError };
import { isNoTlsError, tlsAttempts, type TlsAttempt } from './tls.js';

/** Endpoints that answered "no TLS" once: `prefer` goes straight to plain text there afterwards. */
const plainOnly = new Set<string>();

export interface SessionOptions {
  readonly applicationName?: string;
  readonly connectTimeoutMs?: number;
  /** Attempts for connection set-up; a dropped packet should not end the run. */
  readonly attempts?: number;
  readonly database?: string;
  /** Ends a login still in progress (a witness whose answer is no longer needed): it would otherwise hold the process until its timeout. */
  readonly signal?: AbortSignal;
}

export class NodeSession {
  private closed = false;
  /**
   * Queries on one session run one after another, queued here rather than in pg's own queue:
   * pg prints a DeprecationWarning for a query sent while another runs (seen during rollbacks,
   * where undo actions and observation share a session).
   */
  private tail: Promise<unknown> = Promise.resolve();
  lastError?: Error;

  private constructor(
    readonly node: string,
    private readonly client: pg.Client,
  ) {
    // A server that goes away emits 'error' on the client; without a listener Node would crash.
    client.on('error', (error) => {
      this.lastError = error;
      this.closed = true;
    });
    client.on('end', () => {
      this.closed = true;
    });
  }

  static async open(node: string, conn: ConnParams, options: SessionOptions = {}): Promise<NodeSession> {
    const attempts = options.attempts ?? 3;
    const endpoint = `${conn.host}:${conn.port}`;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const modes = tlsAttempts(conn.extra).filter(
        (tls, _i, all) => !(all.length > 1 && tls !== false && plainOnly.has(endpoint)),
      );
      for (const [i, tls] of modes.entries()) {
        try {
          return new NodeSession(node, await connect(conn, options, tls));
        } catch (error) {
          lastError = error;
          // libpq's prefer/allow: a server without TLS is asked again in plain text, at once.
          if (isNoTlsError(error) && i < modes.length - 1) {
            plainOnly.add(endpoint);
            continue;
          }
          break;
        }
      }
      if (!isTransient(lastError) || attempt === attempts) break;
      await sleep(100 * attempt);
    }
    throw new NodeQueryError(
      node,
      `cannot connect to ${conn.host}:${conn.port}: ${tlsHint(lastError, conn) ?? messageOf(lastError)}`,
      codeOf(lastError),
    );
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  async query<Row extends object = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    timeoutMs = 10_000,
  ): Promise<Row[]> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const mine = this.tail.then(() => this.client.query<Row>(sql, params));
      this.tail = mine.catch(() => undefined);
      const result = await Promise.race([
        mine,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new NodeQueryError(this.node, `query timed out after ${timeoutMs} ms`, 'timeout')),
            timeoutMs,
          );
        }),
      ]);
      return result.rows;
    } catch (error) {
      if (error instanceof NodeQueryError) throw error;
      throw new NodeQueryError(this.node, messageOf(error), codeOf(error));
    } finally {
      clearTimeout(timer);
    }
  }

  async one<Row extends object = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    timeoutMs?: number,
  ): Promise<Row> {
    const rows = await this.query<Row>(sql, params, timeoutMs);
    const row = rows[0];
    if (!row) throw new NodeQueryError(this.node, `query returned no row: ${sql.slice(0, 60)}`);
    return row;
  }

  /** Simple-protocol query (no parameters), as PgBouncer's admin console requires. */
  async simple<Row extends object = Record<string, unknown>>(sql: string, timeoutMs = 10_000): Promise<Row[]> {
    return this.query<Row>(sql, undefined, timeoutMs);
  }

  /** Closes the socket without waiting for the server (which may be gone or paused). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const connection = (this.client as unknown as { connection?: { stream?: { destroy(): void } } }).connection;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 200);
    });
    await Promise.race([this.client.end().catch(() => undefined), giveUp]);
    clearTimeout(timer); // a pending timer would keep the process alive for nothing
    connection?.stream?.destroy();
  }
}

async function connect(conn: ConnParams, options: SessionOptions, tls: TlsAttempt): Promise<pg.Client> {
  const client = new pg.Client({
    host: conn.host,
    port: conn.port,
    user: conn.user,
    database: options.database ?? conn.dbname,
    password: conn.password,
    application_name: options.applicationName ?? 'pg-handover',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3000,
    ...(conn.extra.options ? { options: conn.extra.options } : {}),
    ssl: tls,
  });
  client.on('error', () => undefined);
  const abort = () => {
    void client.end().catch(() => undefined);
    // end() while a login is in progress can leave the socket open until the connect timeout.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    if (options.signal?.aborted) throw new Error('login abandoned: its answer is no longer needed');
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}

/** A certificate the client refused, said in the inventory's terms (which sslmode, which CA file). */
function tlsHint(error: unknown, conn: ConnParams): string | undefined {
  const code = (error as { code?: string } | undefined)?.code ?? '';
  if (!/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) return undefined;
  const mode = conn.extra.sslmode ?? 'prefer';
  const ca = conn.extra.sslrootcert ? `sslrootcert=${conn.extra.sslrootcert}` : 'no sslrootcert (the system CAs)';
  return `TLS: the server's certificate is not accepted with sslmode=${mode} and ${ca}: ${(error as Error).message}`;
}

const codeOf = (error: unknown): string | undefined => (error as { code?: string } | undefined)?.code;

function isTransient(error: unknown): boolean {
  const code = codeOf(error);
  if (code && /^(28|3D)/.test(code)) return false; // auth failure, unknown database: retrying won't help
  return !isNoTlsError(error); // sslmode requires TLS and the server has none: it will not change
}
