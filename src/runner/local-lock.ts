/**
 * One run at a time per inventory on this machine, whatever the database can tell: a lock file
 * next to the journals. It names the run's pid and its guardian's; it is held while either lives,
 * so a run killed inside the pause is still "live" until its guardian has finished or undone it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { ensureDir } from '../util/fs.js';
import { join, resolve } from 'node:path';
import { isAlive } from '../shell/processes.js';

export interface LockOwner {
  readonly runId: string;
  readonly pid: number;
  readonly guardianPid?: number;
}

export const lockFileFor = (journalDir: string, inventoryFile: string): string =>
  join(
    resolve(journalDir),
    `lock-${createHash('sha256').update(resolve(inventoryFile)).digest('hex').slice(0, 16)}.json`,
  );

/** The live owner of the lock, unless it is this process (a guardian taking over its own run). */
export function liveOwner(file: string): LockOwner | undefined {
  const owner = readOwner(file);
  if (!owner) return undefined;
  const mine = owner.pid === process.pid || owner.guardianPid === process.pid;
  const alive = isAlive(owner.pid) || (owner.guardianPid !== undefined && isAlive(owner.guardianPid));
  return alive && !mine ? owner : undefined;
}

/** Takes the lock; returns the live owner instead when someone else holds it. */
export function acquire(file: string, owner: LockOwner): LockOwner | undefined {
  ensureDir(resolve(file, '..'));
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(owner), { flag: 'wx' });
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = liveOwner(file);
    if (holder) return holder;
    // Stale (its run and guardian are gone) or our own: replace it.
    try {
      unlinkSync(file);
    } catch {
      // another process replaced it first; try again
    }
  }
  return readOwner(file);
}

export function update(file: string, owner: LockOwner): void {
  writeFileSync(file, JSON.stringify(owner));
}

export function release(file: string, runId: string): void {
  if (readOwner(file)?.runId !== runId) return;
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
    return typeof parsed.pid === 'number' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
