/**
 * An optional fleet-wide limit for operators who run several orchestrators (`--fleet-lock DSN`,
 * `--fleet-slots N`): a run holds one of N session-level advisory locks in a database the
 * operator names, from before its journal opens until its report. With every slot taken the
 * run is refused (exit 3, nothing changed) and the holders are named. A run that dies frees its
 * slot with its session.
 */
import { PreflightRefusedError } from '../errors.js';
import type { ConnParams } from '../inventory/model.js';
import { NodeSession } from '../postgres/session.js';

/** Its own key space, apart from the cluster lock's. */
export const FLEET_LOCK_CLASS = 0x7067666c; // "pgfl"

export interface FleetSlot {
  readonly slot: number;
  release(): Promise<void>;
}

export async function takeFleetSlot(conn: ConnParams, slots: number, applicationName: string): Promise<FleetSlot> {
  const session = await NodeSession.open('fleet-lock', conn, {
    applicationName,
    attempts: 2,
    connectTimeoutMs: 5000,
  }).catch((error: Error) => {
    throw new PreflightRefusedError(`${error.message}: the fleet lock cannot be taken, nothing was changed`);
  });
  try {
    for (let slot = 1; slot <= slots; slot++) {
      const { locked } = await session.one<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [
        FLEET_LOCK_CLASS,
        slot,
      ]);
      if (locked) return { slot, release: () => session.close() };
    }
    const holders = await session
      .query<{ application_name: string; client_addr: string | null; since: string }>(
        `SELECT a.application_name, host(a.client_addr) AS client_addr, coalesce(a.backend_start::text, '') AS since
         FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.granted`,
        [FLEET_LOCK_CLASS],
      )
      .catch(() => []);
    await session.close();
    const who = holders
      .map((h) => `"${h.application_name}"${h.client_addr ? ` from ${h.client_addr}` : ''} since ${h.since}`)
      .join('; ');
    throw new PreflightRefusedError(
      `fleet-lock: all ${slots} slot(s) of the fleet lock are taken${who ? ` (${who})` : ''}: nothing was changed; run again when one is free`,
    );
  } catch (error) {
    await session.close();
    throw error;
  }
}
