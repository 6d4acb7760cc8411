/**
 * rejoin after a failover, both ways: the old primary stopped cleanly before the replicas lost it
 * (no diverged WAL: no rewind), and one that kept taking writes after its replicas stopped
 * receiving (diverged: pg_rewind). Each ends streaming from the new primary with its data.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { postmasterPid, startNode } from '../../src/sandbox/control.js';
import { waitGone } from '../../src/shell/processes.js';
import { sleep } from '../../src/util/time.js';
import { cli, reportOf } from './support/cli.js';
import { execStep, playbookWith } from './support/faults.js';
import { appConn, nodeConn, settledTopology, sql } from './support/cluster.js';
import { describe, expect, startSandbox, stopSandbox, test, type SandboxFixture } from './support/fixtures.js';

const on = (sandbox: SandboxFixture, node: string, text: string) => sql(nodeConn(sandbox, node), text);
const run = (sandbox: SandboxFixture, ...args: string[]) =>
  cli([...args, '-i', sandbox.manifest.inventoryFile, '--yes', '--json']);

async function stop(sandbox: SandboxFixture, node: string, how: NodeJS.Signals): Promise<void> {
  const pid = postmasterPid(sandbox.manifest, node)!;
  process.kill(pid, how);
  await waitGone([pid], 30_000);
}

/** The events of the run's own journal (pg_rewind's output is recorded there). */
function journalOf(result: { events: Array<Record<string, unknown>> }): Array<Record<string, unknown>> {
  const file = (result.events.find((e) => e.event === 'report')?.report as { journal?: string } | undefined)?.journal;
  return file
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
}

/** Waits for ok(); an error (the table not replayed yet on a replica) counts as "not yet". */
async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await ok()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(100);
  }
}

describe('rejoin: the old primary becomes a replica of the new one', () => {
  test('clean case: stopped cleanly before the failover, it needs no rewind', async ({ sandbox }) => {
    await sql(appConn(sandbox), "CREATE TABLE marks (tag text); INSERT INTO marks VALUES ('before')");
    await stop(sandbox, 'pg1', 'SIGINT'); // fast shutdown: the replicas receive its shutdown checkpoint
    const failover = await run(sandbox, 'failover');
    expect(failover.exitCode, failover.stderr).toBe(0);
    await sql(appConn(sandbox), "INSERT INTO marks VALUES ('after')");

    const rejoin = await run(sandbox, 'rejoin', 'pg1');
    expect(rejoin.exitCode, rejoin.stderr).toBe(0);
    const report = reportOf(rejoin);
    expect(report.oldPrimaryState).toBe('replica streaming from pg2 (no rewind needed)');
    const t = await settledTopology(sandbox);
    expect(t.primaries).toEqual(['pg2']);
    expect(t.upstreamOf).toEqual({ pg1: 'pg2', pg3: 'pg2' });
    await until(
      'pg1 to replay the new row',
      async () => (await on(sandbox, 'pg1', "SELECT count(*)::int AS n FROM marks WHERE tag = 'after'"))[0]!.n === 1,
    );

    const again = await cli(['rejoin', 'pg1', '-i', sandbox.manifest.inventoryFile, '--dry-run']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/NOTHING TO DO: pg1 already streams from pg2 \(exit 0\)/);
  });

  test('diverged case: writes on the old primary after its replicas stopped receiving are rewound away', async ({
    sandbox,
  }) => {
    await sql(appConn(sandbox), "CREATE TABLE marks (tag text); INSERT INTO marks VALUES ('shared')");
    await until(
      'the replicas to have the table',
      async () => (await on(sandbox, 'pg2', 'SELECT count(*)::int AS n FROM marks'))[0]!.n === 1,
    );
    // The replicas lose the primary (a wrong port keeps their user and password), and it goes on alone.
    for (const node of ['pg2', 'pg3']) {
      const setting = String(
        (await on(sandbox, node, "SELECT setting FROM pg_settings WHERE name = 'primary_conninfo'"))[0]!.setting,
      );
      await on(
        sandbox,
        node,
        `ALTER SYSTEM SET primary_conninfo = '${setting.replace(/port=\d+/, 'port=1').replace(/'/g, "''")}'`,
      );
      await on(sandbox, node, 'SELECT pg_reload_conf()');
    }
    await until(
      'pg1 to have no standby',
      async () => (await on(sandbox, 'pg1', 'SELECT count(*)::int AS n FROM pg_stat_replication'))[0]!.n === 0,
    );
    await on(sandbox, 'pg1', "INSERT INTO marks SELECT 'old-only' FROM generate_series(1, 1000)");
    await stop(sandbox, 'pg1', 'SIGKILL');

    const failover = await run(sandbox, 'failover');
    expect(failover.exitCode, failover.stderr).toBe(0);
    expect(reportOf(failover).target).toBe('pg2');
    await sql(appConn(sandbox), "INSERT INTO marks VALUES ('new-primary')");

    const rejoin = await run(sandbox, 'rejoin', 'pg1');
    const told = () =>
      JSON.stringify([
        ...rejoin.events.filter((e) => /fail|error/.test(String(e.event))),
        ...journalOf(rejoin).filter((e) => /pg_rewind/.test(String(e.event))),
      ]);
    expect(rejoin.exitCode, told()).toBe(0);
    expect(reportOf(rejoin).oldPrimaryState).toBe('replica streaming from pg2 (pg_rewind)');
    const summary = rejoin.events.find((e) => e.event === 'step-end')?.summary;
    expect(String(summary)).toMatch(/pg_rewind; pg_control: "in production"/);
    await until(
      "pg1 to replay the new primary's row",
      async () =>
        (await on(sandbox, 'pg1', "SELECT count(*)::int AS n FROM marks WHERE tag = 'new-primary'"))[0]!.n === 1,
    );
    expect(await on(sandbox, 'pg1', "SELECT count(*)::int AS n FROM marks WHERE tag = 'old-only'")).toEqual([{ n: 0 }]);
    expect(await on(sandbox, 'pg1', 'SELECT pg_is_in_recovery() AS r')).toEqual([{ r: true }]);
    const t = await settledTopology(sandbox);
    expect(t.upstreamOf.pg1).toBe('pg2');
  });
});

describe('two nodes: a failover, then the old primary rejoins', () => {
  // Found while building the distance benchmark: the promotion reset the new primary's
  // primary_conninfo, so with no replica left to copy from, the rejoin wrote one without the
  // replication user and passfile, pg_rewind ran, and the node never streamed (exit 5 after 60 s).
  test("the new primary's kept primary_conninfo names the replication user: the rejoin streams", async () => {
    const sandbox = await startSandbox(1);
    try {
      await stop(sandbox, 'pg1', 'SIGKILL');
      const failover = await run(sandbox, 'failover');
      expect(failover.exitCode, failover.stdout + failover.stderr).toBe(0);
      const rejoin = await run(sandbox, 'rejoin', 'pg1');
      expect(rejoin.exitCode, rejoin.stdout + rejoin.stderr).toBe(0);
      expect(rejoin.stdout).not.toMatch(/"id":"replication-conninfo"/);
      const check = await cli(['check', '-i', sandbox.manifest.inventoryFile, '--json']);
      expect(check.exitCode, check.stdout).toBe(0);
      expect(JSON.parse(check.stdout).nodes.find((n: { name: string }) => n.name === 'pg1')).toMatchObject({
        role: 'replica',
        streaming: true,
      });
    } finally {
      await stopSandbox(sandbox);
    }
  });
});

describe('a rejoin that stopped half-way', () => {
  // Found by the soak (seed 20261203, iteration 20): a replica SIGKILLed during a failover could
  // not be rewound (pg_rewind: "could not find previous WAL record"); its failed rejoin then
  // refused every switchover and failover ("no-other-run") until someone repaired that replica.
  test('never blocks a switchover or a failover: it is named, its node left out, its record kept for the next rejoin', async ({
    sandbox,
  }) => {
    const runs = join(dirname(sandbox.manifest.inventoryFile), '.pg-handover', 'runs');
    mkdirSync(runs, { recursive: true });
    const events = [
      {
        event: 'run-start',
        runId: '20261203T011253Z-rejoin',
        inventory: sandbox.manifest.inventoryFile,
        procedure: 'rejoin',
        primary: 'pg3',
        target: 'pg1',
        pid: 2 ** 22 + 1,
        host: hostname(),
      },
      { event: 'point-of-no-return', node: 'pg3' },
      { event: 'report', report: { outcome: 'failed-after-promotion' } },
    ];
    writeFileSync(join(runs, '20261203T011253Z-rejoin.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const dry = await cli(['switchover', '-i', sandbox.manifest.inventoryFile, '--dry-run', '--json']);
    expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/"id":"rejoin-unfinished","verdict":"warn"/);
    const run = await cli(['switchover', '-i', sandbox.manifest.inventoryFile, '--yes', '--json']);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(reportOf(run).primaryNow).toBe('pg2');
  });
});

describe('a planned run that stopped half-way, then the primary dies', () => {
  // Found by the soak (seed 20261203, iterations 394-395): a switchover SIGKILLed in its preflight
  // left a record nobody closed, and the failover of the primary that then died refused to run
  // ("run switchover again first"), with no primary to run it against.
  test('the failover goes by what it observes, and closes the superseded record', async ({ sandbox }) => {
    const runs = join(dirname(sandbox.manifest.inventoryFile), '.pg-handover', 'runs');
    mkdirSync(runs, { recursive: true });
    const record = join(runs, '20261203T020716Z-planned.jsonl');
    const start = {
      event: 'run-start',
      runId: '20261203T020716Z-planned',
      inventory: sandbox.manifest.inventoryFile,
      procedure: 'switchover',
      primary: 'pg1',
      target: 'pg2',
      pid: 2 ** 22 + 3,
      host: hostname(),
    };
    writeFileSync(
      record,
      `${JSON.stringify(start)}\n${JSON.stringify({ event: 'step-start', step: '1-preflight' })}\n`,
    );
    process.kill(postmasterPid(sandbox.manifest, 'pg1')!, 'SIGKILL');
    await sleep(500);
    const run = await cli(['failover', '-i', sandbox.manifest.inventoryFile, '--yes', '--json']);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/"id":"other-run-superseded","verdict":"warn"/);
    expect(readFileSync(record, 'utf8')).toMatch(/"event":"recovered-by".*"outcome":"superseded"/);
  });
});

describe('a switchover to another node while one is left half-done', () => {
  // Found by the soak (seed 20261204, iterations 90-91): a switchover to pg3 failed after its
  // promotion (pg3 SIGKILLed, then started again); the next `switchover -t pg2` finished the one
  // to pg3, as it must, and exited 0, though pg2 was not made primary.
  test('finishes the half-done one first and says the one asked for was not started (exit 8)', async ({ sandbox }) => {
    const pg3 = sandbox.manifest.nodes.find((n) => n.name === 'pg3')!;
    const killTarget = execStep('sh', '-c', `kill -KILL $(head -n 1 ${pg3.dataDir}/postmaster.pid)`);
    const failing = await playbookWith(sandbox, 'target-dies-after-promotion', 'promote', killTarget);
    const first = await run(sandbox, 'switchover', '--playbook', failing, '-t', 'pg3');
    expect(first.exitCode, first.stdout + first.stderr).toBe(5);
    await startNode(sandbox.manifest, 'pg3');
    const again = await run(sandbox, 'switchover', '-t', 'pg2');
    expect(again.exitCode, again.stdout + again.stderr).toBe(8);
    const report = reportOf(again);
    expect(report.primaryNow).toBe('pg3');
    expect(report.leftToDo.join('\n')).toMatch(/the switchover to pg2 you asked for was not started/);
    const next = await run(sandbox, 'switchover', '-t', 'pg2');
    expect(next.exitCode, next.stdout + next.stderr).toBe(0);
    expect(reportOf(next).primaryNow).toBe('pg2');
  });

  test('one whose goal was met anyway is closed, and the switchover asked for runs', async ({ sandbox }) => {
    const failing = await playbookWith(sandbox, 'fails-after-promotion', 'verify', execStep('false'));
    const first = await run(sandbox, 'switchover', '--playbook', failing, '-t', 'pg3');
    expect(first.exitCode, first.stdout + first.stderr).toBe(5);
    const same = await run(sandbox, 'switchover', '-t', 'pg3');
    expect(same.exitCode, same.stdout + same.stderr).toBe(0);
    expect(same.stdout).toMatch(/"id":"half-done-closed"/);
    expect(same.stdout).not.toMatch(/"event":"report"/);
    const second = await run(sandbox, 'switchover', '--playbook', failing, '-t', 'pg1');
    expect(second.exitCode, second.stdout + second.stderr).toBe(5);
    const elsewhere = await run(sandbox, 'switchover', '-t', 'pg2');
    expect(elsewhere.exitCode, elsewhere.stdout + elsewhere.stderr).toBe(0);
    expect(elsewhere.stdout).toMatch(/"id":"half-done-closed"/);
    expect(reportOf(elsewhere).primaryNow).toBe('pg2');
  });
});

describe('a rejoin whose host stops answering', () => {
  // Container soak, seed 20261205, iteration 10: the node's container had been stopped by a
  // fence_command; the rejoin ran its steps and ended exit 5 ("needs a human") though it had
  // changed nothing. Here the host answers preflight, then stops answering at the rejoin step (a
  // host_access wrapper that fails its first command there, as ssh does with "No route to host").
  test('stops before its point of no return: exit 4, nothing changed, and the next rejoin works', async ({
    sandbox,
  }) => {
    await stop(sandbox, 'pg1', 'SIGINT');
    const failover = await run(sandbox, 'failover');
    expect(failover.exitCode, failover.stderr).toBe(0);

    const file = sandbox.manifest.inventoryFile;
    const original = readFileSync(file, 'utf8');
    const doc = parse(original) as { nodes: Array<{ name: string; host_access?: unknown }> };
    const refuse =
      'if [ "$1" = test ] && [ "$2" = -d ]; then echo "ssh: connect to host db1 port 22: No route to host" >&2; exit 255; fi; exec runuser -u postgres -- "$@"';
    doc.nodes.find((n) => n.name === 'pg1')!.host_access = { kind: 'command', command: ['sh', '-c', refuse, 'sh'] };
    writeFileSync(file, stringify(doc));
    const refused = await run(sandbox, 'rejoin', 'pg1');
    writeFileSync(file, original);
    expect(refused.exitCode, `${refused.stdout}\n${refused.stderr}`).toBe(4);
    expect(refused.stdout + refused.stderr).toMatch(/No route to host.*nothing was changed/s);
    expect(postmasterPid(sandbox.manifest, 'pg1'), 'pg1 was not started').toBeUndefined();

    const rejoin = await run(sandbox, 'rejoin', 'pg1');
    expect(rejoin.exitCode, rejoin.stderr).toBe(0);
    const t = await settledTopology(sandbox);
    expect(t.upstreamOf).toEqual({ pg1: 'pg2', pg3: 'pg2' });
  });
});
