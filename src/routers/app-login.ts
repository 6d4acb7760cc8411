/** A router kind's end-to-end check, shared: an application login through it must land on `to`, writable. */
import type { ConnParams } from '../inventory/model.js';
import { NodeSession } from '../postgres/session.js';
import { sleep } from '../util/time.js';
import type { WitnessAnswer } from '../model/witness.js';
import { APP_LOGIN_SQL, servesOn, type NewClients, type RouteTarget } from './types.js';

export { APP_LOGIN_SQL };

/**
 * PgBouncer's answer to a new client while its pool remembers a failed server login and has no
 * server connection (its check_fast_fail): it tries the server again only server_login_retry
 * (15 s by default) after the failed attempt. Seen in the soak after a primary crashed and came
 * back (seeds 20261203 and 20261204: iteration 45 exited 5, and no client got in for seconds).
 */
export const LOGIN_FAILING = /server login has been failing/;
const LOGIN_FAILING_TRIES = 5;

export interface AppLoginOptions {
  /** Logins tried while the router answers LOGIN_FAILING (default 5, 100 ms apart). */
  readonly tries?: number;
  /** Called once, before the first retry: the router may shorten its own wait (PgBouncer: server_login_retry). */
  readonly beforeRetry?: () => Promise<void>;
  /** Bounds each login's connect and its query (default: the session's own). */
  readonly connectTimeoutMs?: number;
}

export async function appLoginProblems(
  router: string,
  app: ConnParams,
  to: RouteTarget,
  applicationName: string,
  options: AppLoginOptions = {},
): Promise<string[]> {
  const tries = options.tries ?? LOGIN_FAILING_TRIES;
  for (let attempt = 1; ; attempt++) {
    try {
      return await appLoginOnce(router, app, to, applicationName, options.connectTimeoutMs);
    } catch (error) {
      if (attempt >= tries || !LOGIN_FAILING.test((error as Error).message)) throw error;
      if (attempt === 1) await options.beforeRetry?.();
      await sleep(100);
    }
  }
}

async function appLoginOnce(
  router: string,
  app: ConnParams,
  to: RouteTarget,
  applicationName: string,
  connectTimeoutMs?: number,
): Promise<string[]> {
  const session = await NodeSession.open(router, app, {
    applicationName,
    ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs, attempts: 1 }),
  });
  try {
    const row = await session.one<{ port: number; in_recovery: boolean; ro: string }>(
      APP_LOGIN_SQL,
      [],
      connectTimeoutMs,
    );
    if (!servesOn(to, Number(row.port)) || row.in_recovery || row.ro === 'on') {
      return [
        `through ${router}, clients reach port ${row.port} (in recovery: ${row.in_recovery}, read-only: ${row.ro})`,
      ];
    }
    return [];
  } finally {
    await session.close();
  }
}

/** The pooler itself did not answer: it says nothing about the server behind it. */
const POOLER_SILENT = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN/;

/**
 * A login (or its query) through a router that failed, read as what was seen: the router itself
 * not answering from here, no answer within the time, or the router's own refusal. Its message
 * without the session's "<name>: " prefix.
 */
function failedLogin(error: unknown): { seen: 'router-silent' | 'no-answer' | 'refused'; message: string } {
  const message = error instanceof Error ? error.message.replace(/^[^:]+: /, '') : String(error);
  if (POOLER_SILENT.test(message) && !/query timed out/.test(message)) return { seen: 'router-silent', message };
  return { seen: /timed out|timeout/i.test(message) ? 'no-answer' : 'refused', message };
}

/**
 * A failover's witness: an application login through the router, which must use its own server
 * connection to `suspect`. An answer from the suspect's port: the router reaches it (the tool may
 * be the one cut off). No answer within `deadlineMs`, or the router cutting the login: it cannot.
 * `signal` ends the probe early (the router's own evidence came first); the session is closed.
 * `login`: the login through the router begun earlier (`witnessLogin`), used instead of a new one.
 */
export async function witnessThrough(
  router: string,
  app: ConnParams | undefined,
  suspect: RouteTarget,
  deadlineMs: number,
  applicationName: string,
  signal?: AbortSignal,
  login?: Promise<NodeSession>,
): Promise<WitnessAnswer> {
  const witness = `pooler ${router}`;
  if (!app)
    return { witness, kind: 'pooler', verdict: 'unknown', detail: 'no app_dsn in the inventory to log in through it' };
  const started = performance.now();
  const answer = (verdict: WitnessAnswer['verdict'], detail: string): WitnessAnswer => ({
    witness,
    kind: 'pooler',
    verdict,
    detail,
    ms: Math.round(performance.now() - started),
  });
  let session: NodeSession | undefined;
  const aborted = new Promise<'aborted'>((resolve) =>
    signal?.addEventListener('abort', () => resolve('aborted'), { once: true }),
  );
  const probe = (async () => {
    session = await (login ?? witnessLogin(router, app, applicationName, deadlineMs, signal));
    if (signal?.aborted) return 'aborted' as const;
    return session.one<{ port: number; in_recovery: boolean }>(
      'SELECT inet_server_port() AS port, pg_is_in_recovery() AS in_recovery',
      [],
      Math.max(1, deadlineMs - (performance.now() - started)),
    );
  })();
  try {
    const row = await Promise.race([probe, aborted]);
    if (row === 'aborted') return answer('unknown', 'not asked to the end');
    if (!servesOn(suspect, Number(row.port)))
      return answer('unknown', `its clients reach port ${row.port}, not ${suspect.name}`);
    return answer(
      'reaches',
      `${suspect.name} answered through it (${row.in_recovery ? 'in recovery' : 'a primary'}) in ${Math.round(performance.now() - started)} ms`,
    );
  } catch (error) {
    const { seen, message } = failedLogin(error);
    if (seen === 'router-silent') return answer('unknown', `it does not answer itself (${message})`);
    return answer(
      'cannot-reach',
      seen === 'no-answer'
        ? `no answer from ${suspect.name} through it within ${deadlineMs} ms`
        : `it could not reach ${suspect.name}: ${message}`,
    );
  } finally {
    // Closed at once, its login or query cut if still waiting: a probe left to its deadline would
    // keep the process alive that long after the run has finished (seen: 2 s after a failover).
    void session?.close();
    probe.catch(() => undefined).finally(() => void session?.close());
  }
}

/**
 * A failover's witness login through a router, begun with the run's own connections, before the
 * suspect is known: the login needs no server connection behind PgBouncer (its auth_file), and it
 * was most of a dead primary's witness time (~40-80 ms at a start where everything logs in at
 * once). Its query, which makes the router reach the suspect, is asked by `witnessThrough`.
 */
export function witnessLogin(
  router: string,
  app: ConnParams,
  applicationName: string,
  deadlineMs: number,
  signal?: AbortSignal,
): Promise<NodeSession> {
  const login = NodeSession.open(router, app, {
    applicationName,
    attempts: 1,
    connectTimeoutMs: Math.max(1, deadlineMs),
    signal,
  });
  login.catch(() => undefined); // said by the witness that uses it; never unhandled
  return login;
}

/**
 * A router's `clients`: one application login through it. Said as what was seen: the router's own
 * refusal, no answer within the time, or the router not answering from here at all (which a client
 * on another host may not meet).
 */
export async function newClientProblems(
  router: string,
  app: ConnParams | undefined,
  to: RouteTarget,
  timeoutMs: number,
  applicationName: string,
): Promise<NewClients | undefined> {
  if (!app) return undefined;
  try {
    const problems = await appLoginProblems(router, app, to, applicationName, {
      tries: 1,
      connectTimeoutMs: timeoutMs,
    });
    return { problems, routerSilent: false };
  } catch (error) {
    const { seen, message } = failedLogin(error);
    const said = {
      'router-silent': `a login through it from here failed: it does not answer itself (${message})`,
      'no-answer': `a new client got no answer through it within ${timeoutMs} ms (${message})`,
      refused: `new clients are refused: ${message}`,
    }[seen];
    return { problems: [said], routerSilent: seen === 'router-silent' };
  }
}
