/**
 * Whether a node accepts writes, asked on a new connection: an old session can still be served
 * by its backend while the postmaster itself hangs, and the pooler's clients need new ones.
 */
import type { ConnParams } from '../inventory/model.js';
import { isWritable, type Writability } from '../model/writability.js';
import { NodeSession } from './session.js';

const WRITABLE_SQL = "SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS ro";

export type { Writability };

/** Throws when the node does not accept a connection or does not answer in time. */
export async function askWritable(
  node: string,
  conn: ConnParams,
  options: { applicationName: string; attempts: number; connectTimeoutMs: number; queryTimeoutMs: number },
): Promise<Writability> {
  const session = await NodeSession.open(node, conn, options);
  try {
    const row = await session.one<{ in_recovery: boolean; ro: string }>(WRITABLE_SQL, [], options.queryTimeoutMs);
    return { inRecovery: row.in_recovery, readOnly: row.ro === 'on' };
  } finally {
    await session.close();
  }
}

export { isWritable };
