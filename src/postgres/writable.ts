/**
 * Whether a node accepts writes, asked on a new connection: an old session can still be served
 * by its backend while the postmaster itself hangs, and the pooler's clients need new ones.
 */
import type { ConnParams } from '../inventory/model.js';
import { isWritable, type Writability } from '../model/writability.js';
import { NodeSession } from './session.js';

const WRITABLE_SQL = `SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS ro,
  (SELECT count(*) > 0 AND bool_and(NOT rolcanlogin) FROM pg_roles WHERE rolname = ANY($1)) AS roles_fenced`;

export type { Writability };

/** Throws when the node does not accept a connection or does not answer in time. */
export async function askWritable(
  node: string,
  conn: ConnParams,
  options: {
    applicationName: string;
    attempts: number;
    connectTimeoutMs: number;
    queryTimeoutMs: number;
    /** The application's roles (the inventory's app_roles, else the poolers' logins): all NOLOGIN is a role fence. */
    appRoles?: readonly string[];
  },
): Promise<Writability> {
  const session = await NodeSession.open(node, conn, options);
  try {
    return await writabilityOn(session, options.appRoles ?? [], options.queryTimeoutMs);
  } finally {
    await session.close();
  }
}

/** The same question on a session already open (verify's look at the old primary). */
export async function writabilityOn(
  session: Pick<NodeSession, 'one'>,
  appRoles: readonly string[],
  timeoutMs?: number,
): Promise<Writability> {
  const row = await session.one<{ in_recovery: boolean; ro: string; roles_fenced: boolean }>(
    WRITABLE_SQL,
    [appRoles],
    timeoutMs,
  );
  return { inRecovery: row.in_recovery, readOnly: row.ro === 'on', rolesFenced: row.roles_fenced };
}

/** The question's text, for a dry run. */
export const WRITABILITY_TEXT = WRITABLE_SQL.replace(/\s+/g, ' ');

export { isWritable };
