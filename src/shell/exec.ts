/**
 * The only place that starts processes. Each call is an argv array (never a shell string),
 * has a timeout and a cancel signal, and returns its result instead of throwing.
 */
import { redact } from '../util/secrets.js';

export interface RunOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly uid?: number;
  readonly gid?: number;
  readonly input?: string;
  /** Called once the process exists (its pid), before it ends: a caller can journal that it was started. */
  readonly onSpawn?: (pid: number | undefined) => void;
}

export interface RunResult {
  readonly argv: readonly string[];
  readonly ok: boolean;
  readonly exitCode?: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly durationMs: number;
  /** Why it did not run at all (e.g. "spawn sudo ENOENT"), when it has no exit code. */
  readonly spawnError?: string;
}

/** After a timeout or a cancel: SIGTERM, then SIGKILL if the process is still there this much later. */
const FORCE_KILL_AFTER_MS = 5000;

/**
 * node:child_process directly (not a wrapper library): a run spawns several small commands
 * (pg_ctl --version, cat postmaster.pid, a replication probe), and a wrapper's own work per
 * call was most of a dry run's second.
 */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty argv');
  const started = performance.now();
  // Imported here, not at the top: deciding (which imports the steps, and through them this
  // module for describeFailure) must load no process runner.
  const { spawn } = await import('node:child_process');
  return new Promise((resolve) => {
    let timedOut = false;
    let canceled = false;
    let spawnError: string | undefined;
    let forceKill: NodeJS.Timeout | undefined;
    const child = spawn(file, args, {
      env: options.env ? { ...process.env, ...options.env } : process.env,
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stop = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      forceKill = setTimeout(() => child.kill('SIGKILL'), FORCE_KILL_AFTER_MS);
      forceKill.unref();
    };
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stop();
          }, options.timeoutMs);
    const onAbort = (): void => {
      canceled = true;
      stop();
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    if (options.input !== undefined) {
      // A child that exits without reading its input must not fail the run with EPIPE.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.input);
    }
    child.once('spawn', () => options.onSpawn?.(child.pid));
    let finished = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (code: number | null, killedBy: NodeJS.Signals | null): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      if (forceKill) clearTimeout(forceKill);
      // Left pending, it kept the tool alive 200 ms after its last command (a dry run's wall time).
      if (grace) clearTimeout(grace);
      options.signal?.removeEventListener('abort', onAbort);
      const exitCode = code ?? undefined;
      resolve({
        argv,
        ok: exitCode === 0 && !timedOut && !canceled,
        exitCode,
        stdout: stripFinalNewline(Buffer.concat(out).toString('utf8')),
        stderr: stripFinalNewline(Buffer.concat(err).toString('utf8')),
        timedOut,
        durationMs: performance.now() - started,
        spawnError:
          exitCode === undefined && !timedOut
            ? (spawnError ?? (killedBy ? `killed by ${killedBy}` : 'did not run'))
            : undefined,
      });
    };
    child.once('close', finish);
    // A grandchild that inherited the pipes (a server started in the background) would hold
    // 'close' for as long as it lives: once the process itself has exited, its output is read
    // for a moment more, then the run ends.
    child.once('exit', (code, killedBy) => {
      grace = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, killedBy);
      }, OUTPUT_GRACE_MS);
    });
    child.once('error', (error) => {
      spawnError ??= error.message;
      // A process that never started emits no 'exit'.
      if (child.pid === undefined) finish(null, null);
    });
  });
}

/** How long output is still read after the process exited, when a grandchild holds its pipes. */
const OUTPUT_GRACE_MS = 200;

const stripFinalNewline = (text: string): string => text.replace(/\r?\n$/, '');

/** One line that says what failed, for error messages (redacted). */
export function describeFailure(what: string, result: RunResult): string {
  const reason = result.timedOut
    ? 'timed out'
    : result.exitCode !== undefined
      ? `exit code ${result.exitCode}`
      : (result.spawnError ?? 'did not run');
  const detail = (result.stderr || result.stdout).trim().split('\n').slice(-2).join(' / ');
  return redact(`${what} failed (${reason})${detail ? `: ${detail}` : ''}`);
}
