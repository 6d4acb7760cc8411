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

/** Loads the process runner ahead of time, so a command run inside the write pause (a platform's hook) does not pay for it. */
export const preloadRun = (): Promise<unknown> => import('execa');

export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty argv');
  const started = performance.now();
  // Loaded on first use: execa is a fifth of the start-up, and a failover may spawn nothing.
  const { execa } = await import('execa');
  const child = execa(file, args, {
    reject: false,
    timeout: options.timeoutMs,
    cancelSignal: options.signal,
    env: options.env,
    cwd: options.cwd,
    uid: options.uid,
    gid: options.gid,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
    stripFinalNewline: true,
  });
  if (options.onSpawn) child.once('spawn', () => options.onSpawn!(child.pid));
  const result = await child;
  return {
    argv,
    ok: result.exitCode === 0 && !result.timedOut && !result.isCanceled,
    exitCode: result.exitCode,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    timedOut: Boolean(result.timedOut),
    durationMs: performance.now() - started,
    spawnError:
      result.exitCode === undefined && !result.timedOut ? result.originalMessage || result.shortMessage : undefined,
  };
}

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
