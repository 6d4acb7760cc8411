/**
 * Keeps the last observation of a writable primary beside the journals (one small JSON file per
 * inventory), so a failover knows the old primary's last position and its synchronous standbys
 * after it can no longer be asked. `check --watch` keeps it fresh.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lastSeenOf } from '../decide/last-seen.js';
import type { ClusterState } from '../model/cluster-state.js';
import type { LastSeen } from '../model/incident.js';
import { ensureDir } from '../util/fs.js';

const fileFor = (dir: string, inventoryFile: string): string =>
  join(
    resolve(dir),
    `last-seen-${createHash('sha256').update(resolve(inventoryFile)).digest('hex').slice(0, 16)}.json`,
  );

/** Records the state's primary, if it has exactly one; never fails the caller (a read-only directory only loses the record). */
export function recordLastSeen(dir: string, inventoryFile: string, state: ClusterState): void {
  const seen = lastSeenOf(state);
  if (!seen) return;
  try {
    ensureDir(resolve(dir));
    const file = fileFor(dir, inventoryFile);
    // The tool and its guardian may both write it: each its own temporary file, renamed over.
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(seen));
    renameSync(temporary, file);
  } catch {
    // the journal-dir check reports an unwritable directory where it matters
  }
}

export function readLastSeen(dir: string, inventoryFile: string): LastSeen | undefined {
  try {
    return JSON.parse(readFileSync(fileFor(dir, inventoryFile), 'utf8')) as LastSeen;
  } catch {
    return undefined;
  }
}
