/**
 * Whether a node accepts writes, asked on a new connection: an old session can still be served
 * by its backend while the postmaster itself hangs, and the pooler's clients need new ones.
 */
import type { ConnParams } from '../inventory/model.js';
import { isWritable, type Writability } from '../model/writability.js';
import { NodeSession } from './session.js';
import { writabilityOn } from './writability-question.js';

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

export { isWritable };
