import { readFileSync } from 'node:fs';
import { EnvironmentError } from '../errors.js';
import type { RunOptions } from './exec.js';

export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** Looks a user up in /etc/passwd (no process spawned). */
export function findOsUser(name: string): OsUser | undefined {
  let passwd: string;
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid, , home] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
    }
  }
  return undefined;
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/** This process's user name, from /etc/passwd by uid. */
export function currentUser(): string {
  const uid = process.getuid?.();
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && Number(id) === uid) return name;
    }
  } catch {
    // fall through
  }
  return process.env.USER ?? `uid ${uid}`;
}

/**
 * Run options that make a child run as `name` when we are root (Postgres and PgBouncer refuse
 * to run as root); empty when we are not root, since then we already are an unprivileged user.
 */
export function runAsIdentity(name: string | undefined, who: string): Pick<RunOptions, 'uid' | 'gid' | 'env'> {
  if (!name || !isRoot()) return {};
  const user = findOsUser(name);
  if (!user) {
    throw new EnvironmentError(
      `${who}: OS user "${name}" does not exist; create it (useradd --system --create-home ${name}) or choose another`,
    );
  }
  return { uid: user.uid, gid: user.gid, env: { HOME: user.home, USER: user.name, LOGNAME: user.name } };
}
