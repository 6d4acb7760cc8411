/**
 * The question "does this node accept writes?" as SQL and its reading, with no driver behind
 * it: verify asks it on the session it already holds, and a dry run (loaded by the pure
 * planning modules) prints its text. `writable.ts` asks it on a new connection.
 */
import type { Writability } from '../model/writability.js';
import type { NodeSession } from './session.js';

const WRITABLE_SQL = `SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS ro,
  (SELECT count(*) > 0 AND bool_and(NOT rolcanlogin) FROM pg_roles WHERE rolname = ANY($1)) AS roles_fenced`;

/** The question on a session already open (verify's look at the old primary). */
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
