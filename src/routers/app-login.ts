/** A router kind's end-to-end check, shared: an application login through it must land on `to`, writable. */
import type { ConnParams } from '../inventory/model.js';
import { NodeSession } from '../postgres/session.js';
import type { RouteTarget } from './types.js';

export const APP_LOGIN_SQL = "SELECT inet_server_port() AS port, pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS ro";

export async function appLoginProblems(router: string, app: ConnParams, to: RouteTarget, applicationName: string): Promise<string[]> {
  const session = await NodeSession.open(router, app, { applicationName });
  try {
    const row = await session.one<{ port: number; in_recovery: boolean; ro: string }>(APP_LOGIN_SQL);
    if (Number(row.port) !== to.port || row.in_recovery || row.ro === 'on') {
      return [`through ${router}, clients reach port ${row.port} (in recovery: ${row.in_recovery}, read-only: ${row.ro})`];
    }
    return [];
  } finally {
    await session.close();
  }
}
