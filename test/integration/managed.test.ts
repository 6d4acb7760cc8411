/**
 * A managed estate (issue 25) on `sandbox up --managed`: the inventory has no host_access and no
 * superuser, the tool logs in as a platform admin (CREATEROLE, pg_monitor, pg_signal_backend),
 * and promotion is the stand-in control plane's command, driven as a platform's CLI would be.
 */
import * as fs from 'node:fs';
import { readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll } from 'vitest';
import type { ConnParams } from '../../src/inventory/model.js';
import { freezeNode, thawNode } from '../../src/sandbox/control.js';
import { readControlPlaneCalls, writeControlPlaneConfig } from '../../src/sandbox/control-plane.js';
import { createLoadTable, longestGap, missingAcknowledged, WriteLoad } from '../../src/sandbox/write-load.js';
import { sleep } from '../../src/util/time.js';
import { cli } from './support/cli.js';
import { appConn, sql } from './support/cluster.js';
import { describe, expect, startSandbox, stopSandbox, test, type SandboxFixture } from './support/fixtures.js';

const DELAY_MS = 1500;

/** The application's own login, straight to a node (not through the pooler). */
const direct = (sandbox: SandboxFixture, node: string): ConnParams => ({
  ...appConn(sandbox),
  host: '127.0.0.1',
  port: sandbox.manifest.nodes.find((n) => n.name === node)!.port,
});

async function directWrite(conn: ConnParams): Promise<string> {
  const client = new pg.Client({ ...conn, database: conn.dbname, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    // What a read-only default would not stop: an explicit read-write transaction.
    await client.query('BEGIN READ WRITE');
    await client.query('CREATE TABLE IF NOT EXISTS direct_writes (at timestamptz DEFAULT now())');
    await client.query('INSERT INTO direct_writes DEFAULT VALUES');
    await client.query('COMMIT');
    return 'written';
  } catch (error) {
    return `refused: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const journals = (sandbox: SandboxFixture): string[] => {
  const runs = join(sandbox.dir, '.pg-handover', 'runs');
  return fs.existsSync(runs)
    ? fs
        .readdirSync(runs)
        .filter((f) => f.endsWith('.jsonl'))
        .map((f) => join(runs, f))
    : [];
};

/** Waits until a journal the sandbox did not have before (`before`) has `event`: a run's progress, as it writes it. */
async function untilJournalSays(
  sandbox: SandboxFixture,
  event: string,
  before: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fresh = journals(sandbox).filter((f) => !before.includes(f));
    if (fresh.some((f) => readFileSync(f, 'utf8').includes(`"event":"${event}"`))) return;
    if (Date.now() > deadline) throw new Error(`no journal says ${event} within ${timeoutMs} ms`);
    await sleep(10);
  }
}

const roleOf = async (sandbox: SandboxFixture, node: string) =>
  (
    await sql(
      { ...sandbox.inventory.nodes.find((n) => n.name === node)!.conn, dbname: 'postgres' },
      "SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = 'app'",
    )
  )[0];

const journalEvents = (file: string): string[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { event: string }).event);

describe('a managed estate: no shell, no superuser, promotion by the platform', () => {
  let sandbox: SandboxFixture;
  beforeAll(async () => {
    sandbox = await startSandbox(2, 2, 'plain', false, undefined, undefined, undefined, { promoteDelayMs: DELAY_MS });
  }, 120_000);
  afterAll(async () => {
    if (sandbox) await stopSandbox(sandbox);
  });

  test('the inventory names no superuser and no host access', () => {
    for (const node of sandbox.inventory.nodes) {
      expect(node.conn.user).toBe('platform_admin');
      expect(node.hostAccess).toBeUndefined();
      expect(node.dataDir).toBeUndefined();
      expect(node.promote?.command).toContain('promote');
    }
    const passfile = readFileSync(sandbox.inventory.passfile!, 'utf8');
    expect(passfile).not.toMatch(/:handover:|:replicator:/);
  });

  test('a promote hook that fails, then one that never ends: rolled back (exit 4), the roles given back exactly, clients write on the old primary', async () => {
    // A limit of its own, to prove the undo gives back exactly what was recorded.
    await sql({ ...sandbox.inventory.nodes[0]!.conn, dbname: 'postgres' }, 'ALTER ROLE app CONNECTION LIMIT 37');
    const before = await roleOf(sandbox, 'pg1');
    expect(before).toEqual({ rolcanlogin: true, rolconnlimit: 37 });

    await writeControlPlaneConfig(sandbox.dir, { delayMs: 200, mode: 'fail' });
    const failed = await cli(['switchover', '-i', sandbox.manifest.inventoryFile, '--yes', '--json']);
    expect(failed.exitCode, failed.stdout + failed.stderr).toBe(4);
    expect(await roleOf(sandbox, 'pg1')).toEqual(before);
    expect(await directWrite(direct(sandbox, 'pg1'))).toBe('written');
    await sql(appConn(sandbox), 'CREATE TABLE IF NOT EXISTS after_undo (id int); INSERT INTO after_undo VALUES (1)');
    // The hook was called only after the catch-up proof, and the point of no return was withdrawn.
    const report = failed.events.at(-1)!.report as { journal: string; notes: string[] };
    const events = journalEvents(report.journal);
    expect(events.indexOf('catchup-proof')).toBeGreaterThan(-1);
    expect(events.indexOf('hook-start')).toBeGreaterThan(events.indexOf('catchup-proof'));
    expect(events).toContain('point-of-no-return-withdrawn');
    expect(report.notes.join('\n')).toMatch(/still a replica, so the run rolls back/);

    // A hook that hangs: the promote step's timeout (3 s here) ends it.
    await writeControlPlaneConfig(sandbox.dir, { delayMs: 0, mode: 'hang' });
    const playbook = join(sandbox.dir, 'short-promote.yaml');
    await writeFile(
      playbook,
      readFileSync('playbooks/switchover.yaml', 'utf8').replace(
        /- kind: promote\n(\s+)timeout: 30s/,
        '- kind: promote\n$1timeout: 3s',
      ),
    );
    const hung = await cli(['switchover', '-i', sandbox.manifest.inventoryFile, '-p', playbook, '--yes', '--json']);
    expect(hung.exitCode, hung.stdout + hung.stderr).toBe(4);
    expect(await roleOf(sandbox, 'pg1')).toEqual(before);
    expect(await directWrite(direct(sandbox, 'pg1'))).toBe('written');
    await writeControlPlaneConfig(sandbox.dir, { delayMs: DELAY_MS, mode: 'ok' });
  }, 120_000);

  test('a switchover under writes through PgBouncer: 0 lost, 0 errors, the marker and LSN proof, a direct BEGIN READ WRITE refused on the old primary', async () => {
    const table = 'managed_load';
    await createLoadTable(appConn(sandbox), table);
    const load = new WriteLoad({ conn: appConn(sandbox), clients: 6, rate: 300, table });
    // A direct session of the application's, open before the run: it must be ended by the fence.
    const held = new pg.Client({ ...direct(sandbox, 'pg1'), database: 'appdb' });
    held.on('error', () => undefined);
    await held.connect();
    load.start();
    await sleep(500);
    const before = journals(sandbox);
    const run = cli(['switchover', '-i', sandbox.manifest.inventoryFile, '--yes', '--json']);
    // While the platform promotes (DELAY_MS, from the hook's start), the old primary is fenced for direct clients too.
    await untilJournalSays(sandbox, 'hook-spawned', before);
    const duringFence = await directWrite(direct(sandbox, 'pg1'));
    const heldSession = await held.query('BEGIN READ WRITE; INSERT INTO managed_load VALUES (-1, -1)').then(
      () => 'written',
      (e: Error) => `refused: ${e.message}`,
    );
    const result = await run;
    await sleep(500);
    const outcome = await load.stop();
    await held.end().catch(() => undefined);

    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(duringFence).toMatch(/refused: .*not permitted to log in/);
    expect(heldSession).toMatch(/refused/);
    const report = result.events.at(-1)!.report as {
      primaryNow: string;
      finalLsn: string;
      targetReplayLsn: string;
      notes: string[];
      journal: string;
    };
    expect(report.primaryNow).toBe('pg2');
    expect(report.notes.join('\n')).toMatch(/catch-up proof: pg2 replayed \S+ >= \S+ .* sees the marker row/);
    expect(outcome.errors).toBe(0);
    expect(await missingAcknowledged({ ...direct(sandbox, 'pg2'), dbname: 'appdb' }, outcome.records, table)).toBe(0);
    const gap = longestGap(outcome.records).gapMs;
    console.log(`managed switchover: stand-in delay ${DELAY_MS} ms, longest client gap ${Math.round(gap)} ms`);
    // Clients waited for the platform: at least its delay (the figure against delay + 150 ms is the benchmark's).
    expect(gap).toBeGreaterThanOrEqual(DELAY_MS);
    // No host command ran: the only commands were the platform's hooks.
    const events = readFileSync(report.journal, 'utf8');
    expect(events).not.toMatch(/"event":"(host-command|shell)"/);
    expect(
      readControlPlaneCalls(sandbox.dir)
        .filter((c) => c.result === 'promoted')
        .map((c) => c.id),
    ).toEqual(['sandbox-pg2']);
    // The old primary stays fenced; the new one lets the application in.
    expect(await directWrite(direct(sandbox, 'pg1'))).toMatch(/not permitted to log in/);
    expect(await directWrite(direct(sandbox, 'pg2'))).toBe('written');
    expect(await roleOf(sandbox, 'pg2')).toEqual({ rolcanlogin: true, rolconnlimit: 37 });
    const check = await cli(['check', '-i', sandbox.manifest.inventoryFile, '--json']);
    expect(check.stdout).toMatch(/"primary":"pg2"/);
  }, 120_000);
});

describe('a managed estate: failover of a dead primary', () => {
  test('the fence_command, then the most advanced replica promoted by its hook, the loss estimate stated', async () => {
    const sandbox = await startSandbox(2, 1, 'plain', false, undefined, undefined, undefined, { promoteDelayMs: 500 });
    try {
      await sql(appConn(sandbox), 'CREATE TABLE before_crash (id int); INSERT INTO before_crash VALUES (1)');
      // The platform's instance dies (its stand-in stops it at once, as a crash would).
      const { controlPlane } = await import('../../src/sandbox/control-plane.js');
      expect((await controlPlane(sandbox.dir, 'stop', 'sandbox-pg1')).code).toBe(0);
      const result = await cli(['failover', '-i', sandbox.manifest.inventoryFile, '--yes', '--json']);
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
      const report = result.events.at(-1)!.report as {
        primaryNow: string;
        possibleLoss?: string;
        journal: string;
        leftToDo: string[];
      };
      expect(['pg2', 'pg3']).toContain(report.primaryNow);
      expect(report.possibleLoss).toBeTruthy();
      const events = journalEvents(report.journal);
      // The fence_command (the platform stops the old instance) ran before the promote hook.
      expect(events.indexOf('fence-command')).toBeGreaterThan(-1);
      expect(events.indexOf('hook-start')).toBeGreaterThan(events.indexOf('fence-command'));
      const promoted = readControlPlaneCalls(sandbox.dir).filter((c) => c.result === 'promoted');
      expect(promoted.map((c) => c.id)).toEqual([`sandbox-${report.primaryNow}`]);
      expect(report.leftToDo.join('\n')).toMatch(/rebuild/);
      expect(await sql(appConn(sandbox), 'SELECT count(*)::int AS n FROM before_crash')).toEqual([{ n: 1 }]);
    } finally {
      await stopSandbox(sandbox);
    }
  }, 120_000);
});

describe('a managed estate: failover of a hung primary that answers again', () => {
  test('its application roles are fenced where it still answers (a direct BEGIN READ WRITE refused), before its fence_command; the new primary gets them back', async () => {
    const sandbox = await startSandbox(2, 1, 'plain', false, undefined, undefined, undefined, { promoteDelayMs: 500 });
    let pids: number[] = [];
    try {
      // Its platform stop does nothing here (a fence_command that cannot reach the instance, or
      // takes minutes): only the role fence keeps direct clients from writing on it.
      const file = sandbox.manifest.inventoryFile;
      const doc = parse(readFileSync(file, 'utf8')) as { nodes: Array<{ name: string; fence_command?: string[] }> };
      doc.nodes.find((n) => n.name === 'pg1')!.fence_command = ['true'];
      writeFileSync(file, stringify(doc));
      expect(await directWrite(direct(sandbox, 'pg1'))).toBe('written');
      // Hung (postmaster and backends stopped), then back right after the failover confirmed it.
      pids = freezeNode(sandbox.manifest, 'pg1');
      const playbook = join(sandbox.dir, 'failover-thaw.yaml');
      await writeFile(
        playbook,
        [
          'name: failover-thaw',
          'steps:',
          '  - kind: confirm-failure',
          '    timeout: 2s',
          `  - kind: exec`,
          // (A backend among them may have exited since.)
          `    command: [sh, -c, "kill -CONT ${pids.join(' ')} 2>/dev/null; exit 0"]`,
          '  - kind: fence-old-primary',
          '  - kind: wait-catchup',
          '  - kind: promote',
          '  - kind: repoint-pooler',
          '  - kind: resume',
          '  - kind: follow',
          '  - kind: verify',
          '',
        ].join('\n'),
      );
      const result = await cli(['failover', '-i', file, '-p', playbook, '--yes', '--json']);
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
      const report = result.events.at(-1)!.report as { primaryNow: string; journal: string; notes: string[] };
      expect(report.notes.join('\n')).toMatch(/pg1 still answered: its application roles \(app\) are NOLOGIN there/);
      const events = journalEvents(report.journal);
      expect(events.indexOf('role-fence')).toBeGreaterThan(-1);
      expect(events.indexOf('fence-command')).toBeGreaterThan(events.indexOf('role-fence'));
      // The old primary runs on, writable by its own lights, but the application cannot log in there.
      expect(await directWrite(direct(sandbox, 'pg1'))).toMatch(/refused: .*not permitted to log in/);
      expect(await roleOf(sandbox, 'pg1')).toEqual({ rolcanlogin: false, rolconnlimit: -1 });
      // The new primary has the roles as recorded, and clients write there through the pooler.
      expect(await roleOf(sandbox, report.primaryNow)).toEqual({ rolcanlogin: true, rolconnlimit: -1 });
      expect(await sql(appConn(sandbox), 'SELECT inet_server_port() AS port')).toEqual([
        { port: sandbox.manifest.nodes.find((n) => n.name === report.primaryNow)!.port },
      ]);
    } finally {
      thawNode(pids);
      await stopSandbox(sandbox);
    }
  }, 120_000);
});

const platformSwitchover = (sandbox: SandboxFixture) =>
  cli(['switchover', '-i', sandbox.manifest.inventoryFile, '-p', 'platform-switchover', '--yes', '--json']);

describe("a managed estate: the platform's own switchover", () => {
  test('a 5 s platform switchover: clients wait through the poolers, no errors, none lost; a pooler whose query_wait_timeout is shorter is refused first', async () => {
    const sandbox = await startSandbox(2, 1, 'plain', false, undefined, undefined, undefined, { promoteDelayMs: 5000 });
    try {
      const pooler = sandbox.manifest.poolers[0]!;
      const ini = readFileSync(pooler.configFile, 'utf8');
      const admin = (sandbox.inventory.poolers[0] as unknown as { admin: ConnParams }).admin;
      const reload = async (text: string) => {
        await writeFile(pooler.configFile, text);
        const client = new pg.Client({ ...admin, database: 'pgbouncer' });
        await client.connect();
        await client.query('RELOAD');
        await client.end();
      };
      // A pooler that would drop waiting clients after 10 s, before the playbook's 65 s budget ends.
      await reload(ini.replace(/query_wait_timeout = \d+/, 'query_wait_timeout = 10'));
      const refused = await platformSwitchover(sandbox);
      expect(refused.exitCode, refused.stdout + refused.stderr).toBe(3);
      expect(refused.stdout).toMatch(/pooler-query-wait-timeout/);
      expect(readControlPlaneCalls(sandbox.dir)).toEqual([]);
      await reload(ini);

      const table = 'platform_load';
      await createLoadTable(appConn(sandbox), table);
      const load = new WriteLoad({ conn: appConn(sandbox), clients: 6, rate: 200, table });
      load.start();
      await sleep(500);
      const result = await platformSwitchover(sandbox);
      await sleep(500);
      const outcome = await load.stop();
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
      const report = result.events.at(-1)!.report as { primaryNow: string; oldPrimaryState: string };
      expect(report.primaryNow).toBe('pg2');
      expect(outcome.errors).toBe(0);
      expect(await missingAcknowledged({ ...direct(sandbox, 'pg2'), dbname: 'appdb' }, outcome.records, table)).toBe(0);
      const gap = longestGap(outcome.records).gapMs;
      console.log(`platform switchover: stand-in 5000 ms, longest client gap ${Math.round(gap)} ms`);
      expect(gap).toBeGreaterThanOrEqual(5000);
      // The platform made the old primary the new one's replica.
      expect(
        await sql({ ...sandbox.inventory.nodes[0]!.conn, dbname: 'postgres' }, 'SELECT pg_is_in_recovery() AS r'),
      ).toEqual([{ r: true }]);
    } finally {
      await stopSandbox(sandbox);
    }
  }, 120_000);
});

describe('a managed estate: the tool dies while the platform promotes', () => {
  test('its guardian waits for the platform, then finishes: roles given back on the new primary, clients released there', async () => {
    const sandbox = await startSandbox(2, 1, 'plain', false, undefined, undefined, undefined, { promoteDelayMs: 4000 });
    try {
      const runs = join(sandbox.dir, '.pg-handover', 'runs');
      const events = () => {
        const { readdirSync, existsSync } = fs;
        if (!existsSync(runs)) return [];
        return readdirSync(runs)
          .filter((f) => f.endsWith('.jsonl'))
          .flatMap((f) =>
            readFileSync(join(runs, f), 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l) as { event: string; outcome?: string }),
          );
      };
      const child = execa('node', ['bin/pg-handover.js', 'switchover', '-i', sandbox.manifest.inventoryFile, '--yes'], {
        reject: false,
        stdin: 'ignore',
      });
      const deadline = Date.now() + 30_000;
      // Killed once the platform has the request (its command started): the promotion goes on without the tool.
      while (!events().some((e) => e.event === 'hook-spawned') && Date.now() < deadline) await sleep(20);
      child.kill('SIGKILL');
      await child;
      // The platform's promotion takes 4 s; the guardian must outlast its usual five tries.
      const finished = Date.now() + 60_000;
      while (!events().some((e) => e.event === 'guardian-recovery-end') && Date.now() < finished) await sleep(200);
      expect(
        events().find((e) => e.event === 'guardian-recovery-end')?.outcome,
        JSON.stringify(readControlPlaneCalls(sandbox.dir)) +
          JSON.stringify(events().filter((e) => /guardian-recovery-end|hook|report/.test(e.event))).slice(0, 3000),
      ).toBe('succeeded');
      await sql(appConn(sandbox), 'CREATE TABLE after_guardian (x int); INSERT INTO after_guardian VALUES (1)');
      expect(await roleOf(sandbox, 'pg2')).toEqual({ rolcanlogin: true, rolconnlimit: -1 });
      expect(await directWrite(direct(sandbox, 'pg1'))).toMatch(/not permitted to log in/);
      const check = await cli(['check', '-i', sandbox.manifest.inventoryFile, '--json']);
      expect(check.stdout).toMatch(/"primary":"pg2"/);
    } finally {
      await stopSandbox(sandbox);
    }
  }, 120_000);
});

describe('a managed estate: rebuilds when the playbook says so', () => {
  test('the old primary and the other replica are rebuilt by their platform from the new primary; the estate is ready to switch back, and does', async () => {
    const sandbox = await startSandbox(2, 1, 'plain', false, undefined, undefined, undefined, { promoteDelayMs: 500 });
    try {
      const playbook = join(sandbox.dir, 'rebuild.yaml');
      await writeFile(
        playbook,
        readFileSync('playbooks/switchover.yaml', 'utf8')
          .replace(/- kind: follow\n(\s+)timeout: 10s/, '- kind: follow\n$1timeout: 60s\n$1rebuild: true')
          .replace(
            /- kind: demote-old-primary\n(\s+)timeout: 60s/,
            '- kind: demote-old-primary\n$1timeout: 60s\n$1rebuild: true',
          ),
      );
      const run = await cli(['switchover', '-i', sandbox.manifest.inventoryFile, '-p', playbook, '--yes', '--json']);
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      const report = run.events.at(-1)!.report as { oldPrimaryState: string; leftToDo: string[] };
      expect(report.oldPrimaryState).toMatch(/rebuilt/);
      expect(report.leftToDo).toEqual([]);
      const rebuilt = readControlPlaneCalls(sandbox.dir).filter((c) => c.result?.startsWith('rebuilt'));
      expect(rebuilt.map((c) => c.id).sort()).toEqual(['sandbox-pg1', 'sandbox-pg3']);
      const check = await cli(['check', '-i', sandbox.manifest.inventoryFile, '--json']);
      expect(check.exitCode, check.stdout).toBe(0);
      // And back: pg1, rebuilt, is an ordinary replica now.
      const back = await cli([
        'switchover',
        '-i',
        sandbox.manifest.inventoryFile,
        '-t',
        'pg1',
        '-p',
        playbook,
        '--yes',
        '--json',
      ]);
      expect(back.exitCode, back.stdout + back.stderr).toBe(0);
      await sql(appConn(sandbox), 'CREATE TABLE after_back (x int); INSERT INTO after_back VALUES (1)');
    } finally {
      await stopSandbox(sandbox);
    }
  }, 180_000);
});
