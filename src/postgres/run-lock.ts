/**
 * One run at a time per cluster: a session-level advisory lock, taken on the current primary and
 * on the target (which becomes the primary, so the lock survives the old primary's stop).
 * The session's application_name says who holds it.
 */
import type { NodeSession } from './session.js';

/** 'pgho' as an int4, and a fixed second key. */
export const LOCK_KEY = { classId: 0x7067686f, objId: 1 } as const;

export async function tryLock(session: Pick<NodeSession, 'one'>): Promise<boolean> {
  const row = await session.one<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [
    LOCK_KEY.classId,
    LOCK_KEY.objId,
  ]);
  return row.locked;
}

export async function unlock(session: Pick<NodeSession, 'isOpen' | 'query'>): Promise<void> {
  if (!session.isOpen) return;
  await session.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_KEY.classId, LOCK_KEY.objId]).catch(() => undefined);
}

export function lockOwnerName(runId: string): string {
  return `pg-handover run ${runId} pid ${process.pid}`.slice(0, 63);
}
