/**
 * The role fence's SQL: where the tool has neither a shell nor a superuser (a managed platform),
 * the old primary stops taking the application's writes when its roles cannot log in and their
 * sessions are gone. A read-only default would not do: a client can `SET
 * default_transaction_read_only = off` or `BEGIN READ WRITE`. Roles replicate, so the replicas
 * (and the new primary) see the same NOLOGIN until the run gives back what it recorded.
 */
import type { AppRole, RoleFenceView } from '../model/node.js';
import { quoteIdent } from './sql.js';
import type { NodeSession } from './session.js';

/** The schema and table of the catch-up marker: a row written by the tool's session after the fence. */
export const MARKER_TABLE = 'pghandover.marker';
export const MARKER_SETUP_SQL = [
  'CREATE SCHEMA IF NOT EXISTS pghandover',
  `CREATE TABLE IF NOT EXISTS ${MARKER_TABLE} (run_id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now())`,
];
export const MARKER_INSERT_SQL = `INSERT INTO ${MARKER_TABLE} (run_id) VALUES ($1) ON CONFLICT (run_id) DO NOTHING`;
export const MARKER_SEEN_SQL = `SELECT EXISTS (SELECT 1 FROM ${MARKER_TABLE} WHERE run_id = $1) AS seen`;
/** After the marker's commit: every acknowledged commit is at or before it. */
export const CURRENT_LSN_SQL = 'SELECT pg_current_wal_lsn()::text AS lsn';

export const nologinSql = (role: string): string => `ALTER ROLE ${quoteIdent(role)} NOLOGIN`;

/** What the undo gives back: exactly the recorded LOGIN and CONNECTION LIMIT. */
export const restoreRoleSql = (role: Pick<AppRole, 'name' | 'canLogin' | 'connLimit'>): string =>
  `ALTER ROLE ${quoteIdent(role.name)} ${role.canLogin ? 'LOGIN' : 'NOLOGIN'} CONNECTION LIMIT ${Math.trunc(role.connLimit)}`;

/** The named roles' LOGIN and CONNECTION LIMIT as they are now (a superuser is never fenced). */
export const ROLES_NOW_SQL = `SELECT rolname AS name, rolcanlogin AS can_login, rolconnlimit AS conn_limit
  FROM pg_roles WHERE rolname = ANY($1) AND NOT rolsuper ORDER BY rolname`;

/** Signalled at once, then ROLE_SESSIONS_SQL polled until none is left (see TERMINATE_SQL in sql.ts for why). */
export const TERMINATE_ROLES_SQL = `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND usename = ANY($1) AND pid <> pg_backend_pid()`;
export const ROLE_SESSIONS_SQL = `SELECT count(*)::int AS n FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND usename = ANY($1) AND pid <> pg_backend_pid()`;

/** Names a platform reserves for itself; never fenced, never discovered as the application's. */
const RESERVED = /^(pg_|rds|cloudsql|azure|alloydb)/;

/**
 * The roles to fence: the inventory's `app_roles`, else the poolers' logins and every other
 * non-superuser role with a client session now (not the tool's own, not a replication role).
 */
export async function observeRoleFence(
  session: NodeSession,
  candidates: { declared?: readonly string[]; poolerLogins: readonly string[] },
  versionNum: number,
  timeoutMs: number,
): Promise<RoleFenceView> {
  const declared = candidates.declared !== undefined;
  const tool = await session.one<{ tool: string; signal: boolean; monitor: boolean; marker: boolean }>(
    `SELECT current_user AS tool,
       pg_has_role('pg_signal_backend', 'USAGE') AS signal,
       pg_has_role('pg_monitor', 'USAGE') AS monitor,
       CASE WHEN to_regclass('${MARKER_TABLE}') IS NOT NULL
            THEN has_table_privilege('${MARKER_TABLE}', 'INSERT') AND has_table_privilege('${MARKER_TABLE}', 'SELECT')
            ELSE has_database_privilege(current_database(), 'CREATE') END AS marker`,
    [],
    timeoutMs,
  );
  const named = declared ? [...candidates.declared!] : [...candidates.poolerLogins];
  const admin = versionNum >= 160000 ? "pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION')" : 'true';
  const rows = await session.query<{
    name: string;
    can_login: boolean;
    conn_limit: number;
    superuser: boolean;
    alterable: boolean;
    sessions: number;
  }>(
    `SELECT r.rolname AS name, r.rolcanlogin AS can_login, r.rolconnlimit AS conn_limit, r.rolsuper AS superuser,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
         OR ((SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user) AND NOT r.rolsuper AND ${admin}) AS alterable,
       (SELECT count(*) FROM pg_stat_activity a WHERE a.usename = r.rolname AND a.backend_type = 'client backend')::int AS sessions
     FROM pg_roles r
     WHERE r.rolname = ANY($1)
        OR (NOT $2 AND r.rolname <> current_user AND NOT r.rolsuper AND NOT r.rolreplication AND r.rolname !~ $3
            AND r.rolname IN (SELECT usename FROM pg_stat_activity WHERE backend_type = 'client backend'))
     ORDER BY r.rolname`,
    [named, declared, RESERVED.source],
    timeoutMs,
  );
  return {
    tool: tool.tool,
    signalBackend: tool.signal,
    monitor: tool.monitor,
    markerWritable: tool.marker,
    declared,
    roles: rows.map((r) => ({
      name: r.name,
      canLogin: r.can_login,
      connLimit: Number(r.conn_limit),
      superuser: r.superuser,
      alterable: r.alterable,
      sessions: Number(r.sessions),
    })),
  };
}
