/**
 * The effects that keep the invariants, through fake ports (support/fake-ports.ts), in
 * milliseconds. Each test is there to catch one mutation that survived every unit test before
 * (issue 24): promote's replay check, wait-catchup accepting a stall in a planned switchover,
 * resume releasing a router that was not repointed, the undo releasing clients onto a primary
 * not proven writable, the cluster lock and the lock file allowing a second run, and the point of
 * no return not marked before promotion is requested.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PreflightRefusedError, TimeoutError } from '../../src/errors.js';
import { NodeQueryError } from '../../src/postgres/errors.js';
import { PROMOTE_SQL, PROMOTION_TIMEOUT_CODE, promoteAndWaitSql } from '../../src/postgres/sql.js';
import { parseLsn } from '../../src/model/lsn.js';
import { loadPlaybook } from '../../src/playbook/load.js';
import { switchover } from '../../src/procedures/switchover/index.js';
import { routerChecks } from '../../src/routers/registry.js';
import { takeLock } from '../../src/runner/cluster-lock.js';
import { acquire, lockFileFor } from '../../src/runner/local-lock.js';
import { markingNoReturn } from '../../src/runner/run.js';
import { FENCE_MODES } from '../../src/steps/fence-modes.js';
import { undoFence } from '../../src/steps/fence-undo.js';
import type { NodeSql } from '../../src/steps/ports.js';
import { promoteStep } from '../../src/steps/promote.js';
import { resumeStep } from '../../src/steps/resume.js';
import { performInOrder, type PlanContext, type StepDefinition } from '../../src/steps/types.js';
import { waitCatchupStep } from '../../src/steps/wait-catchup.js';
import { healthyCluster } from './support/cluster-fixtures.js';
import { fakeCluster, type Answer } from './support/fake-ports.js';

const FINAL = '0/3000100';

async function planned(fenceMethod?: PlanContext['fenceMethod'], poolers = 1): Promise<PlanContext> {
  const playbook = await loadPlaybook(
    join(import.meta.dirname, '..', '..', 'playbooks', 'switchover.yaml'),
    switchover.rules,
  );
  const context = switchover.decide(healthyCluster(), playbook, { target: 'pg2', routerChecks }).context!;
  const first = context.inventory.poolers[0]!;
  const extra = Array.from({ length: poolers - 1 }, (_, i) => ({ ...first, name: `pgb${i + 2}` }));
  return {
    ...context,
    fenceMethod: fenceMethod ?? context.fenceMethod,
    inventory: { ...context.inventory, poolers: [...context.inventory.poolers, ...extra] },
  };
}

/** A node that answers the replay position (and whatever else the step asks) from a script. */
const replayingAt =
  (lsn: string, otherwise: Answer = () => [{}]): Answer =>
  (sql, params) =>
    /pg_last_wal_replay_lsn/.test(sql) ? [{ lsn, received: lsn }] : otherwise(sql, params);

/** The step's actions as the runner runs them (markingNoReturn, then in order). */
function runActions<S extends StepDefinition>(definition: S, ctx: Parameters<typeof performInOrder>[1], out: unknown) {
  // Parameters by their defaults; `never` stands for the step's own type, which S does not narrow here.
  const step = definition.schema.parse({
    kind: (definition.schema.shape as { kind: { value: string } }).kind.value,
  }) as never;
  const actions = markingNoReturn(definition.actions(step, ctx));
  return definition.run ? definition.run(step, ctx, out as never, actions) : performInOrder(actions, ctx, out as never);
}

describe('promote', () => {
  it('refuses when the target replayed less than the final position: pg_promote is never sent, nothing crossed', async () => {
    const f = fakeCluster(await planned(), { pg2: replayingAt('0/30000FF') });
    f.ctx.outputs['fence-writes'].finalLsn = parseLsn(FINAL);
    await expect(runActions(promoteStep, f.ctx, f.ctx.outputs.promote)).rejects.toThrow(/behind the final position/);
    expect(f.nodes.pg2!.sent.some((sql) => /pg_promote/.test(sql))).toBe(false);
    expect(f.ctx.noReturn.requested).toBe(false);
  });

  it('the point of no return is marked, and journalled, before pg_promote is sent, even when that fails', async () => {
    let requestedWhenSent: boolean | undefined;
    const f = fakeCluster(await planned(), {
      pg2: replayingAt(FINAL, (sql) => {
        if (/pg_promote/.test(sql)) {
          requestedWhenSent = f.ctx.noReturn.requested;
          throw new Error('server closed the connection unexpectedly');
        }
        return [{}];
      }),
    });
    f.ctx.outputs['fence-writes'].finalLsn = parseLsn(FINAL);
    await expect(runActions(promoteStep, f.ctx, f.ctx.outputs.promote)).rejects.toThrow(/closed the connection/);
    expect(requestedWhenSent).toBe(true);
    expect(f.ctx.noReturn).toEqual({ requested: true, confirmed: false });
    expect(f.journal.map((e) => e.event)).toEqual(['point-of-no-return']);
    expect(f.journal[0]!.data).toMatchObject({ target: 'pg2', replayLsn: FINAL });
  });
});

describe('promote: the server waits for the end of recovery itself', () => {
  const promoteWait = (sql: string) => /^DO \$pgh\$/.test(sql) && /pg_promote\(false\)/.test(sql);

  it('one statement after the replay check: requested, waited for on the server, confirmed; nothing polled from here', async () => {
    const f = fakeCluster(await planned(), { pg2: replayingAt(FINAL, () => []) });
    f.ctx.outputs['fence-writes'].finalLsn = parseLsn(FINAL);
    await runActions(promoteStep, f.ctx, f.ctx.outputs.promote);
    const sent = f.nodes.pg2!.sent;
    expect(sent.filter(promoteWait)).toHaveLength(1);
    expect(sent.findIndex(promoteWait)).toBeGreaterThan(sent.findIndex((sql) => /pg_last_wal_replay_lsn/.test(sql)));
    expect(sent.some((sql) => sql === 'SELECT pg_is_in_recovery() AS in_recovery')).toBe(false);
    expect(f.ctx.noReturn).toEqual({ requested: true, confirmed: true });
    expect(f.ctx.outputs.promote.targetReplayLsn).toBe(parseLsn(FINAL));
  });

  it('the server saying recovery has not ended by the deadline is a timeout: crossed, not confirmed, not asked again', async () => {
    const f = fakeCluster(await planned(), {
      pg2: replayingAt(FINAL, (sql) => {
        if (promoteWait(sql))
          throw new NodeQueryError('pg2', 'still in recovery after 30000 ms', PROMOTION_TIMEOUT_CODE);
        return [{ in_recovery: false }];
      }),
    });
    f.ctx.outputs['fence-writes'].finalLsn = parseLsn(FINAL);
    await expect(runActions(promoteStep, f.ctx, f.ctx.outputs.promote)).rejects.toThrow(TimeoutError);
    expect(f.nodes.pg2!.sent.filter((sql) => /pg_promote|pg_is_in_recovery/.test(sql))).toHaveLength(1);
    expect(f.ctx.noReturn).toEqual({ requested: true, confirmed: false });
  });

  it('a server that cannot run the block (no PL/pgSQL) is asked and polled from here until out of recovery', async () => {
    let looks = 0;
    const f = fakeCluster(await planned(), {
      pg2: replayingAt(FINAL, (sql) => {
        if (promoteWait(sql)) throw new NodeQueryError('pg2', 'language "plpgsql" does not exist', '42704');
        if (/pg_is_in_recovery/.test(sql)) return [{ in_recovery: ++looks < 3 }];
        return [{}];
      }),
    });
    f.ctx.outputs['fence-writes'].finalLsn = parseLsn(FINAL);
    await runActions(promoteStep, f.ctx, f.ctx.outputs.promote);
    expect(f.nodes.pg2!.sent).toContain(PROMOTE_SQL);
    expect(looks).toBe(3);
    expect(f.ctx.noReturn).toEqual({ requested: true, confirmed: true });
    expect(f.journal.map((e) => e.event)).toContain('promote-waited-from-here');
  });

  it('the statement text: the deadline and the repeated request, and the catch that ends the loop as recovery ends', () => {
    const sql = promoteAndWaitSql(30_000, 5);
    expect(sql).toMatch(/interval '30000 milliseconds'/);
    expect(sql).toMatch(/WHILE pg_is_in_recovery\(\) LOOP/);
    expect(sql).toMatch(/interval '5 milliseconds'/);
    expect(sql).toMatch(/EXCEPTION WHEN OTHERS THEN NULL/);
    expect(sql).toMatch(new RegExp(`ERRCODE = '${PROMOTION_TIMEOUT_CODE}'`));
  });
});

describe('wait-catchup', () => {
  it('in a planned switchover a replay that stalls short of the final position is a failure, never accepted', async () => {
    for (const method of ['clean-stop', 'read-only'] as const) {
      const f = fakeCluster(await planned(method), { pg2: replayingAt('0/3000000') });
      f.ctx.outputs['fence-writes'].finalLsn = parseLsn(FINAL);
      const short = waitCatchupStep.schema.parse({ kind: 'wait-catchup', timeout: '400ms' });
      const actions = markingNoReturn(waitCatchupStep.actions(short, f.ctx));
      await expect(performInOrder(actions, f.ctx, f.ctx.outputs['wait-catchup'])).rejects.toThrow(/did not happen/);
      expect(f.ctx.outputs['wait-catchup'].targetReplayLsn).toBeUndefined();
    }
  });
});

describe('resume', () => {
  it('after promotion releases only the routers repointed to the new primary; one left on the old primary stays held, named', async () => {
    const f = fakeCluster(await planned(undefined, 2), {
      pg2: (sql) => (/pg_walfile_name/.test(sql) ? [{ tli: 2 }] : [{}]),
    });
    f.ctx.outputs['fence-writes'].held.add('pgb').add('pgb2');
    f.ctx.outputs['repoint-pooler'].repointed.add('pgb');
    f.ctx.noReturn.requested = f.ctx.noReturn.confirmed = true;
    await expect(runActions(resumeStep, f.ctx, f.ctx.outputs.resume)).rejects.toThrow(/kept pgb2 paused/);
    expect(f.routers.pgb!.calls).toEqual(['release']);
    expect(f.routers.pgb2!.calls).toEqual([]);
    expect(f.ctx.log.leftToDo.join('\n')).toMatch(/pgb2 is still PAUSED/);
  });
});

describe('the read-only fence', () => {
  it('reads the final position only once the sessions it terminated have gone (one may still be committing)', async () => {
    let left = 3;
    const f = fakeCluster(await planned('read-only'), {
      pg1: (sql) =>
        /pg_terminate_backend/.test(sql)
          ? [{ n: 3 }]
          : /SELECT count\(\*\)/.test(sql)
            ? [{ n: left-- > 0 ? left + 1 : 0 }]
            : /pg_current_wal_flush_lsn/.test(sql)
              ? [{ lsn: FINAL }]
              : [{}],
    });
    const out = f.ctx.outputs['fence-writes'];
    const actions = FENCE_MODES['read-only'].actions(f.ctx, 5000);
    await performInOrder(actions, f.ctx, out);
    const sent = f.nodes.pg1!.sent;
    const terminated = sent.findIndex((s) => /pg_terminate_backend/.test(s));
    const flushed = sent.findIndex((s) => /pg_current_wal_flush_lsn/.test(s));
    const counts = sent.map((s, i) => (/SELECT count\(\*\)/.test(s) ? i : -1)).filter((i) => i >= 0);
    // Signalled together (no per-session wait), then polled until none is left, then the position.
    expect(sent[terminated]).not.toMatch(/pg_terminate_backend\(pid,/);
    expect(counts).toHaveLength(4);
    expect(counts.every((i) => i > terminated && i < flushed)).toBe(true);
    expect(out.finalLsn).toBe(parseLsn(FINAL));
  });
});

describe('undoing the fence', () => {
  it('clients stay held unless the old primary is proven writable on a new connection', async () => {
    for (const seen of [
      { inRecovery: false, readOnly: true },
      { inRecovery: true, readOnly: false },
      undefined, // does not answer
    ]) {
      const f = fakeCluster(await planned('read-only'), { pg1: () => [{}] }, seen ? { writable: { pg1: seen } } : {});
      const out = f.ctx.outputs['fence-writes'];
      out.held.add('pgb');
      out.readOnly = true;
      await expect(undoFence(f.ctx, out)).rejects.toThrow(/not resuming clients/);
      expect(f.routers.pgb!.calls).toEqual([]);
      expect(out.held.has('pgb')).toBe(true);
    }
  });

  it('and released once it is', async () => {
    const f = fakeCluster(
      await planned('read-only'),
      { pg1: () => [{}] },
      { writable: { pg1: { inRecovery: false, readOnly: false } } },
    );
    const out = f.ctx.outputs['fence-writes'];
    out.held.add('pgb');
    out.readOnly = true;
    await undoFence(f.ctx, out);
    expect(f.routers.pgb!.calls).toEqual(['release']);
    expect(out.held.size).toBe(0);
  });
});

describe('one run at a time', () => {
  it('the cluster lock: a node where another run holds it refuses this run, naming the node', async () => {
    const context = await planned();
    const f = fakeCluster(context, {
      pg1: () => [{ locked: true }],
      pg2: () => [{ locked: false }],
      pg3: () => [{ locked: true }],
    });
    const locked: NodeSql[] = [];
    const refusal = await takeLock(f.ctx.connections, context.state, locked).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(PreflightRefusedError);
    expect(String(refusal)).toMatch(/holds the cluster lock on pg2/);
    // Those it did take are handed back to be unlocked.
    expect(locked).toEqual([f.nodes.pg1, f.nodes.pg3]);
  });

  it('the cluster lock: a node that stopped answering since the observation refuses the run (nothing changed), not an internal error', async () => {
    // Found by the soak (seed 20261203, iteration 163): a replica SIGKILLed in that moment made the switchover exit 1.
    const context = await planned();
    const f = fakeCluster(context, { pg1: () => [{ locked: true }], pg3: () => [{ locked: true }] });
    const locked: NodeSql[] = [];
    const refusal = await takeLock(f.ctx.connections, context.state, locked).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(PreflightRefusedError);
    expect(String(refusal)).toMatch(/pg2 stopped answering between the observation and the cluster lock/);
    expect(locked).toEqual([f.nodes.pg1, f.nodes.pg3]);
  });

  it('the lock file: a live owner keeps it; a dead one is replaced', () => {
    const file = lockFileFor(mkdtempSync(join(tmpdir(), 'pgh-lock-')), 'inventory.yaml');
    // The parent process is alive and is not this one.
    expect(acquire(file, { runId: 'first', pid: process.ppid })).toBeUndefined();
    expect(acquire(file, { runId: 'second', pid: process.pid })).toMatchObject({ runId: 'first' });
    const dead = lockFileFor(mkdtempSync(join(tmpdir(), 'pgh-lock-')), 'inventory.yaml');
    expect(acquire(dead, { runId: 'gone', pid: 2 ** 22 + 1 })).toBeUndefined();
    expect(acquire(dead, { runId: 'next', pid: process.pid })).toBeUndefined();
  });
});

describe("a managed failover's old primary that still answers", () => {
  const managedFailover = async (fenceMethod: PlanContext['fenceMethod']): Promise<PlanContext> => {
    const plan = await planned(fenceMethod);
    return { ...plan, managed: true, inventory: { ...plan.inventory, appRoles: ['app'] } };
  };
  const roles: Answer = (sql) =>
    /FROM pg_roles/.test(sql)
      ? [{ name: 'app', can_login: true, conn_limit: 40 }]
      : /pg_terminate_backend/.test(sql)
        ? [{ n: 2 }]
        : [{}];

  it('gets its application roles NOLOGIN (recorded first) and their sessions ended, before its fence_command', async () => {
    for (const method of ['fence-command', 'pooler-only'] as const) {
      const plan = await managedFailover(method);
      const f = fakeCluster(plan, { pg1: roles });
      const fence = FENCE_MODES[method].actions(plan, 1000)[0]!;
      expect(fence.text).toMatch(/ALTER ROLE "?app"? NOLOGIN.*only if pg1 still answers/);
      const out = f.ctx.outputs['fence-writes'];
      expect(await fence.run!(f.ctx, out)).toMatch(/pg1 still answered: app NOLOGIN, 2 session\(s\) terminated/);
      expect(f.journal[0]).toEqual({
        event: 'role-fence',
        data: { node: 'pg1', roles: [{ name: 'app', canLogin: true, connLimit: 40 }] },
      });
      expect(out.roleFence?.roles).toEqual([{ name: 'app', canLogin: true, connLimit: 40 }]);
      const sent = f.nodes.pg1!.sent;
      expect(sent.findIndex((s) => /NOLOGIN/.test(s))).toBeLessThan(
        sent.findIndex((s) => /pg_terminate_backend/.test(s)),
      );
    }
  });

  it('one that does not answer is left to its fence_command, and the run goes on', async () => {
    const plan = await managedFailover('fence-command');
    const f = fakeCluster(plan, {});
    const fence = FENCE_MODES['fence-command'].actions(plan, 1000)[0]!;
    expect(await fence.run!(f.ctx, f.ctx.outputs['fence-writes'])).toMatch(/pg1 does not answer: no role fence there/);
    expect(f.ctx.outputs['fence-writes'].roleFence).toBeUndefined();
    expect(f.journal).toEqual([]);
  });

  it('a self-managed failover has no role fence; resume gives the recorded roles back on the new primary', async () => {
    expect(FENCE_MODES['fence-command'].actions(await planned('fence-command'), 1000)).toHaveLength(1);
    const plan = await managedFailover('fence-command');
    const f = fakeCluster(plan, { pg2: (sql) => (/pg_walfile_name/.test(sql) ? [{ tli: 2 }] : [{}]) });
    f.ctx.outputs['fence-writes'].roleFence = { node: 'pg1', roles: [{ name: 'app', canLogin: true, connLimit: 40 }] };
    f.ctx.noReturn.requested = f.ctx.noReturn.confirmed = true;
    await runActions(resumeStep, f.ctx, f.ctx.outputs.resume).catch(() => undefined);
    expect(f.nodes.pg2!.sent[0]).toMatch(/ALTER ROLE "?app"? LOGIN CONNECTION LIMIT 40/);
  });
});
