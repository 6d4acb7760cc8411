/**
 * A re-run closes a half-done run's record only when its goal is met: the roles and routes, and a
 * new client getting in through each router that can be asked. A pooler still refusing clients
 * (PgBouncer's server_login_retry after a crash) keeps the record open so the run finishes it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Connections } from '../../src/cluster/connections.js';
import type { UnfinishedRun } from '../../src/model/unfinished-run.js';
import { closeIfGoalMet } from '../../src/runner/goal-met-close.js';
import { cluster, pooler, primary, replica } from './support/cluster-fixtures.js';

/** pg1 failed over to pg2: pg1 silent, pg3 streams from pg2, the pooler sends clients to pg2. */
const failedOver = () =>
  cluster(
    [{ name: 'pg1', reachable: false, error: 'connection refused' } as never, primary('pg2'), replica('pg3', 5002)],
    [pooler(5002)],
  );

function unfinishedFailover(): UnfinishedRun {
  const dir = mkdtempSync(join(tmpdir(), 'pgh-goal-'));
  const file = join(dir, 'r1.jsonl');
  writeFileSync(file, '');
  return {
    runId: 'r1',
    file,
    procedure: 'failover',
    primary: 'pg1',
    target: 'pg2',
    promoteRequested: true,
    lastEvent: 'report',
    paths: {},
    alive: false,
  };
}

/** Connections whose one router answers a client login with `problems` (undefined: not asked, no app_dsn). */
function withRouter(problems: string[] | undefined, routerSilent = false): Connections & { asked: number } {
  const fake = {
    asked: 0,
    routers: new Map([
      [
        'pgb',
        {
          spec: { name: 'pgb' },
          clients: () => {
            fake.asked++;
            return Promise.resolve(problems && { problems, routerSilent });
          },
        },
      ],
    ]),
  };
  return fake as unknown as Connections & { asked: number };
}

const failover = { procedure: 'failover' };

describe('closing a half-done record whose goal looks met', () => {
  test('a client gets in: the record is closed (a journal line) and the same command has nothing to do', async () => {
    const run = unfinishedFailover();
    const connections = withRouter([]);
    const ending = await closeIfGoalMet(failover, run, failedOver(), connections, 2000, 'r2');
    expect(connections.asked).toBe(1);
    expect(ending.closed).toBe(true);
    expect(ending.check?.verdict).toBe('pass');
    expect(ending.result?.kind).toBe('nothing-to-do');
    expect(ending.result?.message).toMatch(/a new client gets in through pgb\); its record is closed/);
    expect(readFileSync(run.file, 'utf8')).toMatch(/"recovered-by".*"goal-met"/);
  });

  test('the pooler refuses new clients: the record stays open, the run finishes it, and says why', async () => {
    const run = unfinishedFailover();
    const ending = await closeIfGoalMet(
      failover,
      run,
      failedOver(),
      withRouter(['new clients are refused: server login has been failing']),
      2000,
      'r2',
    );
    expect(ending.closed).toBe(false);
    expect(ending.result).toBeUndefined();
    expect(ending.check?.id).toBe('half-done-clients-refused');
    expect(ending.check?.verdict).toBe('warn');
    expect(ending.check?.message).toMatch(/a new client is refused \(pgb: new clients are refused: server login/);
    expect(readFileSync(run.file, 'utf8')).toBe('');
  });

  test('a router that cannot be asked (no app_dsn) does not keep the record open, and is not claimed', async () => {
    const ending = await closeIfGoalMet(
      failover,
      unfinishedFailover(),
      failedOver(),
      withRouter(undefined),
      2000,
      'r2',
    );
    expect(ending.closed).toBe(true);
    expect(ending.result?.message).not.toMatch(/a new client gets in/);
  });

  test('a router that does not answer from here is no evidence of a refusal: the record is closed, and that is said', async () => {
    const ending = await closeIfGoalMet(
      failover,
      unfinishedFailover(),
      failedOver(),
      withRouter(['a login through it from here failed: it does not answer itself (connect ECONNREFUSED)'], true),
      2000,
      'r2',
    );
    expect(ending.closed).toBe(true);
    expect(ending.result?.message).toMatch(/; pgb did not answer a login from here\); its record is closed/);
    expect(ending.result?.message).not.toMatch(/a new client gets in/);
  });

  test('another procedure closes the record without a login: its own run verifies the clients', async () => {
    const connections = withRouter(['new clients are refused: x']);
    const ending = await closeIfGoalMet(
      { procedure: 'switchover' },
      unfinishedFailover(),
      failedOver(),
      connections,
      2000,
      'r2',
    );
    expect(connections.asked).toBe(0);
    expect(ending.closed).toBe(true);
    expect(ending.result).toBeUndefined();
  });

  test('the goal not met (a replica not streaming from the new primary): nothing closed, nobody asked', async () => {
    const connections = withRouter([]);
    const state = cluster(
      [{ name: 'pg1', reachable: false, error: 'connection refused' } as never, primary('pg2'), replica('pg3', 5001)],
      [pooler(5002)],
    );
    const ending = await closeIfGoalMet(failover, unfinishedFailover(), state, connections, 2000, 'r2');
    expect(ending).toEqual({ closed: false });
    expect(connections.asked).toBe(0);
  });
});
