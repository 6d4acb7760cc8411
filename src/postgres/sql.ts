/**
 * SQL that more than one step sends, in one place so the dry run and every step say the same
 * thing. Parameters are $n placeholders; `literal` shows a value in dry-run text.
 */
/** The read-only fence, and its undo: the one text every step and the dry run use. */
export const SET_READ_ONLY_SQL = 'ALTER SYSTEM SET default_transaction_read_only = on';
export const RESET_READ_ONLY_SQL = 'ALTER SYSTEM RESET default_transaction_read_only';
export const RELOAD_SQL = 'SELECT pg_reload_conf()';
export const READ_ONLY_SQL = [SET_READ_ONLY_SQL, RELOAD_SQL];
export const READ_WRITE_SQL = [RESET_READ_ONLY_SQL, RELOAD_SQL];
/**
 * Every other client session signalled at once, not awaited one by one: pg_terminate_backend(pid,
 * timeout) looks before the session has gone and then sleeps 100 ms, per session (4 sessions took
 * 405 ms, measured on PostgreSQL 15). The caller polls SESSIONS_LEFT_SQL until they are gone.
 */
export const TERMINATE_SQL = `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> $1`;
export const SESSIONS_LEFT_SQL = `SELECT count(*)::int AS n FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> $1`;
export const FLUSH_SQL = 'SELECT pg_current_wal_flush_lsn()::text AS lsn';
export const REPLAY_SQL = 'SELECT pg_last_wal_replay_lsn()::text AS lsn';
export const IN_RECOVERY_SQL = 'SELECT pg_is_in_recovery() AS in_recovery';
export const PROMOTE_SQL = 'SELECT pg_promote(false)';
/** The SQLSTATE PROMOTE_AND_WAIT_SQL raises when recovery has not ended by its deadline. */
export const PROMOTION_TIMEOUT_CODE = 'PH001';
/**
 * Promotion requested and waited for by the server itself, in one round trip: pg_is_in_recovery()
 * every millisecond, and the request made again every `askAgainMs` while recovery goes on (see
 * promote.ts, RENUDGE_MS). A client polling instead pays a round trip per look (three to four
 * round trips in all at a distance), and pg_promote(true) looks only every 100 ms. A request
 * made as recovery ends fails with "recovery is not in progress": caught, the loop then ends.
 */
export const promoteAndWaitSql = (timeoutMs: number, askAgainMs: number): string => `DO $pgh$
DECLARE
  deadline constant timestamptz := clock_timestamp() + interval '${Math.round(timeoutMs)} milliseconds';
  asked timestamptz := clock_timestamp();
BEGIN
  PERFORM pg_promote(false);
  WHILE pg_is_in_recovery() LOOP
    IF clock_timestamp() > deadline THEN
      RAISE EXCEPTION 'still in recovery after ${Math.round(timeoutMs)} ms' USING ERRCODE = '${PROMOTION_TIMEOUT_CODE}';
    END IF;
    PERFORM pg_sleep(0.001);
    IF clock_timestamp() - asked > interval '${Math.round(askAgainMs)} milliseconds' THEN
      asked := clock_timestamp();
      BEGIN
        PERFORM pg_promote(false);
      EXCEPTION WHEN OTHERS THEN NULL;
      END;
    END IF;
  END LOOP;
END
$pgh$`;
export const ROLE_SQL =
  "SELECT pg_is_in_recovery() AS in_recovery, current_setting('default_transaction_read_only') AS ro";
export const TIMELINE_SQL = "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli";
export const RECEIVER_SQL = 'SELECT status, sender_host, sender_port, received_tli FROM pg_stat_wal_receiver';
export const ATTACHED_SQL = `SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'`;
export const ENSURE_SLOT_SQL = `SELECT pg_create_physical_replication_slot($1, true)
  WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`;
export const DROP_OWN_SLOTS_SQL = `SELECT slot_name, pg_drop_replication_slot(slot_name) FROM pg_replication_slots
  WHERE slot_name = ANY($1) AND NOT active AND slot_type = 'physical'`;

/** A string literal, quoted for SQL (also PgBouncer's console). */
export const quoteLiteral = (value: string): string => `'${value.replace(/'/g, "''")}'`;
/** An identifier: bare when it is a plain lower-case name (PgBouncer's console reads those too), else double-quoted. */
export const quoteIdent = (name: string): string =>
  /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;

/** `sql` with its $n placeholders replaced by quoted values, for the dry run. */
export const withValues = (sql: string, values: readonly string[]): string =>
  sql.replace(/\$(\d+)/g, (match, n: string) =>
    values[Number(n) - 1] === undefined ? match : quoteLiteral(values[Number(n) - 1]!),
  );

export const setPrimaryConninfoSql = (conninfo: string): string =>
  `ALTER SYSTEM SET primary_conninfo = ${quoteLiteral(conninfo)}`;
export const setPrimarySlotSql = (slot: string): string =>
  slot ? `ALTER SYSTEM SET primary_slot_name = ${quoteLiteral(slot)}` : 'ALTER SYSTEM RESET primary_slot_name';

export interface ReceiverRow {
  readonly status: string;
  readonly sender_host: string;
  readonly sender_port: number;
  readonly received_tli: number;
}
