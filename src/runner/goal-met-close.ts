/**
 * A re-run that finds an unfinished run's record: when the cluster already is what that run
 * meant to leave, its record is closed with a journal line (a manual repair ends there instead of
 * looping), and the same command has nothing to do. "What it meant to leave" includes clients
 * getting in: the roles can be right while a pooler still turns every new client away (PgBouncer
 * for server_login_retry after a login to a new primary that crashed and came back). Then the
 * record stays open and this run finishes it: its verification holds that retry at 0 until a
 * client gets in.
 */
import { clientLogins, refusedLines } from '../cluster/client-logins.js';
import type { Connections } from '../cluster/connections.js';
import { pass, warn, type Check } from '../decide/checks.js';
import { goalMet } from '../decide/goal-met.js';
import type { ClusterState } from '../model/cluster-state.js';
import type { NewClients } from '../routers/types.js';
import type { UnfinishedRun } from '../model/unfinished-run.js';
import { dirname } from 'node:path';
import { Journal } from './journal.js';

/** A login through a router when no detection timeout applies (a planned procedure's re-run). */
const LOGIN_TIMEOUT_MS = 2000;

export interface GoalMetEnding {
  /** What the decision shows about that record. */
  readonly check?: Check;
  /** The record is closed: the run goes on as if there were none. */
  readonly closed: boolean;
  /** The same command for the same node: nothing to do. */
  readonly result?: { readonly kind: 'nothing-to-do'; readonly checks: readonly Check[]; readonly message: string };
}

export async function closeIfGoalMet(
  asked: { readonly procedure: string; readonly target?: string },
  unfinished: UnfinishedRun,
  state: ClusterState,
  connections: Connections,
  timeoutMs: number | undefined,
  runId: string,
): Promise<GoalMetEnding> {
  const met = goalMet(state, unfinished);
  if (!met) return { closed: false };
  // The same command again finishes that run; it never starts a second one on top (a second
  // switchover), unless it names another node than that run did: then that is what is asked.
  const named = nodeNamed(unfinished.procedure, unfinished.primary, unfinished.target);
  const same = unfinished.procedure === asked.procedure && (asked.target === undefined || asked.target === named);
  // Another procedure closes the record and runs its own verification; the same one would end
  // here, so it asks first what a new client meets.
  const appName = `pg-handover ${asked.procedure}`;
  const logins =
    same && unfinished.procedure !== 'rejoin'
      ? await clientLogins(connections, state.inventory, state, timeoutMs ?? LOGIN_TIMEOUT_MS, appName)
      : {};
  const refused = refusedLines(logins);
  if (refused.length) {
    return {
      closed: false,
      check: warn(
        'half-done-clients-refused',
        `run ${unfinished.runId} of the ${unfinished.procedure} procedure did not finish; its roles are in place (${met}), but a new client is refused (${refused.join('; ')}): this run finishes it`,
      ),
    };
  }
  new Journal(dirname(unfinished.file), unfinished.runId).write('recovered-by', {
    runId,
    outcome: 'goal-met',
    reason: met,
  });
  const check = pass(
    'half-done-closed',
    `run ${unfinished.runId} of the ${unfinished.procedure} procedure did not finish, but its goal is met (${met}): its record is closed (${unfinished.file})`,
  );
  if (!same) return { closed: true, check };
  return {
    closed: true,
    check,
    result: {
      kind: 'nothing-to-do',
      checks: [check],
      message: `run ${unfinished.runId} had reached its goal (${met}${gotIn(logins)}); its record is closed`,
    },
  };
}

/** Which routers a new client got in through, and which did not answer from here (a router without app_dsn is not asked). */
function gotIn(logins: Readonly<Record<string, NewClients>>): string {
  const entries = Object.entries(logins);
  const inside = entries.filter(([, met]) => !met.problems.length).map(([name]) => name);
  const silent = entries.filter(([, met]) => met.routerSilent).map(([name]) => name);
  return [
    inside.length ? `; a new client gets in through ${inside.join(', ')}` : '',
    silent.length ? `; ${silent.join(', ')} did not answer a login from here` : '',
  ].join('');
}

/** The node a command names (`-t`, or rejoin's argument): the one that rejoins, else the one that becomes primary. */
export const nodeNamed = (procedure: string, primary: string, target: string): string =>
  procedure === 'rejoin' ? primary : target;
