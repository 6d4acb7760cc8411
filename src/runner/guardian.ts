/**
 * The guardian: a small detached process started before the fence, so that the pause never
 * depends on the tool staying alive. It watches the tool's pid; if the tool dies without writing
 * its report (SIGKILL, OOM, a crash), it runs the same recovery a second run would (finish
 * the switchover past promotion, undo the fence before it) within a second or so. It has its own
 * session (setsid), so a closed terminal's SIGHUP does not reach it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { EnvironmentError } from '../errors.js';
import { signal } from '../shell/processes.js';

export interface GuardianOrders {
  /** The procedure whose run it guards (its name in procedures/catalog.ts). */
  readonly procedure: string;
  readonly toolPid: number;
  readonly journalFile: string;
  readonly journalDir: string;
  readonly inventoryFile: string;
  readonly playbookFile?: string;
  /** The procedure's own flags (no secret among them: --bin-dir, --back, …). */
  readonly flags?: Readonly<Record<string, unknown>>;
}

export interface Guardian {
  readonly pid: number;
  /** The run ended with a report: the guardian has nothing to do. */
  dismiss(): void;
}

// The compiled file, also when the CLI runs from its one-file bundle.
const main = (): string => join(packageRoot(), 'dist', 'runner', 'guardian-main.js');
const READY_TIMEOUT_MS = 5000;

export async function startGuardian(orders: GuardianOrders): Promise<Guardian> {
  const child = spawn(process.execPath, [main(), JSON.stringify(orders)], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const pid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new EnvironmentError(`the guardian process did not start within ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    child.once('error', (error) => reject(new EnvironmentError(`cannot start the guardian process: ${error.message}`)));
    child.stdout.once('data', () => resolve(child.pid!));
    child.once('exit', (code) => reject(new EnvironmentError(`the guardian process exited at start (code ${code})`)));
    child.stdout.once('close', () => clearTimeout(timer));
  }).finally(() => {
    child.stdout.destroy();
    child.removeAllListeners();
    child.unref();
  });
  return { pid, dismiss: () => void signal(pid, 'SIGTERM') };
}
