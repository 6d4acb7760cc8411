/**
 * Process bookkeeping by PID (never by name): read a pid file, find a process's children,
 * signal and wait. Used by the sandbox and by fault tests.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { sleep } from '../util/time.js';

export function readPidFile(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still answers kill(0); treat it as gone.
  return !processState(pid)?.startsWith('Z');
}

function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (parentOf(Number(entry)) === pid) children.push(Number(entry));
  }
  return children;
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

export function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

export async function waitGone(pids: readonly number[], timeoutMs: number, pollMs = 5): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (pids.some(isAlive)) {
    if (performance.now() > deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

/** SIGCONT (a stopped process ignores everything else), the signal, then SIGKILL if it lingers. */
export async function stopProcesses(pids: readonly number[], first: NodeJS.Signals, graceMs: number): Promise<void> {
  const alive = pids.filter(isAlive);
  for (const pid of alive) {
    signal(pid, 'SIGCONT');
    signal(pid, first);
  }
  if (await waitGone(alive, graceMs)) return;
  for (const pid of alive.filter(isAlive)) signal(pid, 'SIGKILL');
  await waitGone(alive, 5000);
}
