/**
 * The SQL of a major-version upgrade by logical replication: what the source and the target say
 * about one database (tables and their replica identity, the schema as comparable lines,
 * sequences, large objects, the publication, the subscription and its slots).
 */
import {
  PUBLICATION,
  subscriptionName,
  type SchemaLines,
  type SourceDatabase,
  type TargetDatabase,
} from '../model/logical.js';
import type { NodeSpec } from '../inventory/model.js';
import { NodeSession } from './session.js';

/**
 * A session of the tool's own to `database` on `node`, for one use: read-write even where the
 * side that takes no client writes is read-only by default (the tool subscribes and sets
 * sequences there).
 */
export async function inDatabase<T>(
  node: NodeSpec,
  database: string,
  use: (session: NodeSession) => Promise<T>,
  applicationName?: string,
): Promise<T> {
  const session = await NodeSession.open(
    node.name,
    { ...node.conn, dbname: database },
    applicationName ? { applicationName } : {},
  );
  try {
    await session.query('SET default_transaction_read_only = off');
    return await use(session);
  } finally {
    await session.close();
  }
}

const USER_SCHEMAS =
  "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'";

const TABLES_SQL = `
SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relreplident AS identity,
  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS has_ident_index
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND ${USER_SCHEMAS}
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1`;

// Each object one line, so two servers' schemas compare as sets (the server's own rendering).
const SCHEMA_SQL = `
SELECT 'table' AS kind, format('%I.%I', n.nspname, c.relname) AS line
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND ${USER_SCHEMAS}
UNION ALL
SELECT 'column', format('%I.%I.%I %s%s', n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN ' not null' ELSE '' END)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND ${USER_SCHEMAS}
UNION ALL
SELECT 'index', pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS}
UNION ALL
SELECT 'constraint', format('%I.%I %I %s', n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid))
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.contype <> 'n' AND ${USER_SCHEMAS}`;

const SEQUENCES_SQL = `SELECT format('%I.%I', schemaname, sequencename) AS name, last_value::text AS last_value FROM pg_sequences ORDER BY 1`;

export async function readSchema(session: NodeSession): Promise<SchemaLines> {
  const rows = await session.query<{ kind: string; line: string }>(SCHEMA_SQL);
  const of = (kind: string) =>
    rows
      .filter((r) => r.kind === kind)
      .map((r) => r.line)
      .sort();
  return { tables: of('table'), columns: of('column'), indexes: of('index'), constraints: of('constraint') };
}

/** `session` is connected to `database` on the source's primary. */
export async function readSourceDatabase(session: NodeSession, database: string): Promise<SourceDatabase> {
  const tables = (
    await session.query<{ name: string; identity: 'd' | 'n' | 'f' | 'i'; has_pk: boolean; has_ident_index: boolean }>(
      TABLES_SQL,
    )
  ).map((r) => ({ name: r.name, identity: r.identity, hasPrimaryKey: r.has_pk, hasIdentityIndex: r.has_ident_index }));
  const sequences = (await session.query<{ name: string; last_value: string | null }>(SEQUENCES_SQL)).map((r) => ({
    name: r.name,
    ...(r.last_value === null ? {} : { lastValue: BigInt(r.last_value) }),
  }));
  const lo = await session.one<{ n: number }>('SELECT count(*)::int AS n FROM pg_largeobject_metadata');
  const publication = await session.one<{ found: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1) AS found',
    [PUBLICATION],
  );
  const slots = (
    await session.query<{
      slot_name: string;
      active: boolean;
      retained: string | null;
      wal_status: string | null;
      safe_wal_size: string | null;
    }>(
      `SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained, wal_status, safe_wal_size::text
       FROM pg_replication_slots WHERE slot_type = 'logical' AND database = current_database() AND (slot_name = $1 OR slot_name LIKE 'pg\\_%\\_sync\\_%')`,
      [subscriptionName(database)],
    )
  ).map((r) => ({
    name: r.slot_name,
    active: r.active,
    retainedBytes: Number(r.retained ?? 0),
    walStatus: r.wal_status ?? 'unknown',
    ...(r.safe_wal_size === null ? {} : { safeWalBytes: Number(r.safe_wal_size) }),
  }));
  return {
    database,
    tables,
    schema: await readSchema(session),
    sequences,
    largeObjects: lo.n,
    publication: publication.found,
    slots,
  };
}

/** `session` is connected to `database` on the target's primary (undefined: the database does not exist there). */
export async function readTargetDatabase(session: NodeSession | undefined, database: string): Promise<TargetDatabase> {
  if (!session) return { database, exists: false };
  const name = subscriptionName(database);
  const sub = await session.query<{
    subenabled: boolean;
    states: Record<string, string> | null;
    pid: number | null;
    latest_end_lsn: string | null;
    apply_errors: string | null;
    sync_errors: string | null;
  }>(
    `SELECT s.subenabled,
       (SELECT json_object_agg(r.srrelid::regclass::text, r.srsubstate) FROM pg_subscription_rel r WHERE r.srsubid = s.oid) AS states,
       st.pid, st.latest_end_lsn::text, ss.apply_error_count::text AS apply_errors, ss.sync_error_count::text AS sync_errors
     FROM pg_subscription s
     LEFT JOIN pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL
     LEFT JOIN pg_stat_subscription_stats ss ON ss.subid = s.oid
     WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [name],
  );
  const copying = Object.fromEntries(
    (
      await session.query<{ rel: string; bytes: string }>(
        "SELECT relid::regclass::text AS rel, bytes_processed::text AS bytes FROM pg_stat_progress_copy WHERE command = 'COPY FROM'",
      )
    ).map((r) => [r.rel, Number(r.bytes)]),
  );
  const row = sub[0];
  return {
    database,
    exists: true,
    schema: await readSchema(session),
    ...(row
      ? {
          subscription: {
            name,
            enabled: row.subenabled,
            tableStates: row.states ?? {},
            applyPid: row.pid ?? undefined,
            latestEndLsn: row.latest_end_lsn ?? undefined,
            applyErrors: Number(row.apply_errors ?? 0),
            syncErrors: Number(row.sync_errors ?? 0),
            copying,
          },
        }
      : {}),
  };
}
