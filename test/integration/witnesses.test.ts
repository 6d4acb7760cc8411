/**
 * Issue 22 with the faults made for real: the tool cut off from a healthy primary (only its own
 * traffic dropped or rejected; the replicas and PgBouncer still reach it), quiet and under load:
 * `failover` refuses, nothing changes, and the message says the tool is the one cut off. A pooler
 * pointing at a replica is a refusal, not an invented half-done run. A split brain is said as one;
 * another cluster's node and one server listed twice are refused by name.
 */
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { createLoadTable, WriteLoad } from '../../src/sandbox/write-load.js';
import { defaultJournalDir } from '../../src/runner/journal.js';
import { loadInventory } from '../../src/inventory/load.js';
import { openRouter } from '../../src/routers/registry.js';
import { routeTargetOf } from '../../src/routers/types.js';
import { postmasterPid } from '../../src/sandbox/control.js';
import { waitGone } from '../../src/shell/processes.js';
import { sleep } from '../../src/util/time.js';
import { cli } from './support/cli.js';
import { appConn, nodeConn, snapshot, sql } from './support/cluster.js';
import { cutToolFrom, type Cut } from './support/firewall.js';
import { describe, expect, startSandbox, stopSandbox, test, type SandboxFixture } from './support/fixtures.js';

const portOf = (sandbox: SandboxFixture, node: string) => sandbox.manifest.nodes.find((n) => n.name === node)!.port;
const journals = (sandbox: SandboxFixture) => {
  const dir = defaultJournalDir(sandbox.manifest.inventoryFile);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jsonl')) : [];
};

async function editInventory(sandbox: SandboxFixture, edit: (doc: any) => void): Promise<void> {
  const doc = parse(readFileSync(sandbox.manifest.inventoryFile, 'utf8'));
  edit(doc);
  writeFileSync(sandbox.manifest.inventoryFile, stringify(doc));
}

describe('the tool cut off from a healthy primary', () => {
  test('quiet and under load, dropped and rejected: failover refuses (exit 3), says the tool is cut off, changes nothing', async ({
    sandbox,
  }) => {
    for (const loaded of [false, true]) {
      for (const how of ['drop', 'reject'] as Cut[]) {
        // Quiet: nothing written for a while, so the replicas have heard nothing for seconds.
        if (!loaded) await sleep(3000);
        const table = `cut_${how}`;
        if (loaded) await createLoadTable(appConn(sandbox), table);
        const load = loaded ? new WriteLoad({ conn: appConn(sandbox), clients: 4, rate: 200, table }) : undefined;
        load?.start();
        if (load) await sleep(500);
        const before = journals(sandbox).length;
        const heal = await cutToolFrom(portOf(sandbox, 'pg1'), how);
        let result;
        try {
          result = await cli(['failover', '-i', sandbox.manifest.inventoryFile, '--yes']);
        } finally {
          await heal();
        }
        const outcome = await load?.stop();
        const label = `${loaded ? 'under load' : 'quiet'}, ${how}`;
        process.stderr.write(
          `tool cut off from a healthy primary (${label}): exit ${result.exitCode}; ${(/witnesses +(.*)/.exec(result.stdout + result.stderr)?.[1] ?? '').slice(0, 160)}\n`,
        );
        expect(result.exitCode, `${label}\n${result.stdout}\n${result.stderr}`).toBe(3);
        expect(result.stderr).toMatch(
          /preflight refused: witnesses: pg1 is seen by its witnesses \(.*\): the tool is the one cut off from it, not failing over/,
        );
        expect(result.stdout + result.stderr).toMatch(/pooler pgbouncer: pg1 answered through it \(a primary\)/);
        expect(journals(sandbox).length, 'no run was started').toBe(before);
        if (outcome) expect(outcome.records.filter((r) => !r.ok).map((r) => r.error)).toEqual([]);
        const [row] = await sql(appConn(sandbox), 'SELECT inet_server_port() AS port, pg_is_in_recovery() AS r');
        expect(row).toEqual({ port: portOf(sandbox, 'pg1'), r: false });
      }
    }
    const after = await snapshot(sandbox);
    expect((after as any).topology).toMatchObject({ primaries: ['pg1'], poolerPointsAt: 'pg1', poolerPaused: false });
  });
});

describe('evidence and identity', () => {
  test('a pooler pointing at a replica, no journal: switchover refuses naming it, no "half-done" run is invented', async ({
    sandbox,
  }) => {
    const ini = sandbox.manifest.poolers[0]!.configFile;
    const text = readFileSync(ini, 'utf8');
    writeFileSync(
      ini,
      text.replace(new RegExp(`(appdb\\s*=.*port=)${portOf(sandbox, 'pg1')}`), `$1${portOf(sandbox, 'pg2')}`),
    );
    await sql((sandbox.inventory.poolers[0] as any).admin, 'RELOAD');
    const before = await snapshot(sandbox);
    const result = await cli(['switchover', '-i', sandbox.manifest.inventoryFile, '-t', 'pg2', '--yes']);
    expect(result.exitCode, result.stderr).toBe(3);
    expect(result.stdout + result.stderr).not.toMatch(/half-done|finishing/i);
    expect(result.stderr).toMatch(/preflight refused: .*pgbouncer.*appdb.*pg2/);
    expect(journals(sandbox)).toEqual([]);
    expect(await snapshot(sandbox)).toEqual(before);
  });

  test("split brain: check says so (exit 5); the same server twice and another cluster's node are refused by name", async ({
    sandbox,
  }) => {
    // One server listed twice: 127.0.0.1 and localhost.
    const original = readFileSync(sandbox.manifest.inventoryFile, 'utf8');
    await editInventory(sandbox, (doc) =>
      doc.nodes.push({
        ...doc.nodes[1],
        name: 'pg2again',
        dsn: doc.nodes[1].dsn.replace('host=127.0.0.1', 'host=localhost'),
      }),
    );
    for (const command of [
      ['switchover', '--dry-run'],
      ['failover', '--dry-run'],
    ]) {
      const twice = await cli([...command, '-i', sandbox.manifest.inventoryFile]);
      expect(twice.exitCode, twice.stdout).toBe(3);
      expect(twice.stdout).toMatch(
        /same-server +the inventory lists one server twice: pg2 \(127.0.0.1:\d+\) and pg2again \(localhost:\d+\) are one address/,
      );
    }
    writeFileSync(sandbox.manifest.inventoryFile, original);

    // Another cluster's node: a second sandbox's primary, listed in this inventory.
    const other = await startSandbox(1);
    try {
      const foreign = other.manifest.nodes[0]!;
      await editInventory(sandbox, (doc) =>
        doc.nodes.push({ name: 'stranger', dsn: `host=127.0.0.1 port=${foreign.port} user=handover dbname=postgres` }),
      );
      const passfile = join(sandbox.dir, 'pgpass');
      // Its handover password, for its port only (both sandboxes list 127.0.0.1:*:*:handover).
      const theirs = readFileSync(join(other.dir, 'pgpass'), 'utf8')
        .split('\n')
        .find((l) => l.startsWith('127.0.0.1:*:*:handover:'))!;
      writeFileSync(
        passfile,
        theirs.replace('127.0.0.1:*:', `127.0.0.1:${foreign.port}:`) + '\n' + readFileSync(passfile, 'utf8'),
      );
      for (const command of [
        ['switchover', '-t', 'pg2', '--yes'],
        ['failover', '--yes'],
      ]) {
        const result = await cli([...command, '-i', sandbox.manifest.inventoryFile]);
        expect(result.exitCode, result.stderr).toBe(3);
        expect(result.stderr).toMatch(
          /same-cluster: stranger is not part of this cluster: its system identifier is \d+, while pg1, pg2, pg3 have \d+/,
        );
        expect(result.stderr).not.toMatch(/split brain/i);
      }
      const check = await cli(['check', '-i', sandbox.manifest.inventoryFile]);
      expect(check.exitCode).toBe(3);
      expect(check.stdout).toMatch(/inventory: same-cluster: stranger is not part of this cluster/);
    } finally {
      await stopSandbox(other);
      writeFileSync(sandbox.manifest.inventoryFile, original);
    }

    // A real split brain: pg2 promoted by hand while pg1 still accepts writes.
    await sql(nodeConn(sandbox, 'pg2', 'postgres'), 'SELECT pg_promote(true)');
    const split = await cli(['check', '-i', sandbox.manifest.inventoryFile]);
    expect(split.exitCode, split.stdout).toBe(5);
    expect(split.stdout).toMatch(/^SPLIT BRAIN: pg1 and pg2 all accept writes/);
  });
});

describe("PgBouncer as a failover's witness", () => {
  test('a dead server: cannot reach it, said before the deadline; a paused database: nothing known', async ({
    sandbox,
  }) => {
    const inventory = await loadInventory(sandbox.manifest.inventoryFile);
    const pg1 = inventory.nodes.find((n) => n.name === 'pg1')!;
    const router = await openRouter(inventory.poolers[0]!);
    await router.connect();
    try {
      const pid = postmasterPid(sandbox.manifest, 'pg1')!;
      process.kill(pid, 'SIGKILL');
      await waitGone([pid], 10_000);
      const target = routeTargetOf(pg1, undefined);
      // As a failover asks it: its login begun with the run's connections, its query when asked.
      router.prepareWitness!('pg-handover-test', 5000);
      const dead = await router.witness(target, 5000, 'pg-handover-test');
      expect(dead.verdict, dead.detail).toBe('cannot-reach');
      // Said from what PgBouncer showed, not by waiting the deadline out.
      expect(dead.ms ?? 0).toBeLessThan(5000);
      expect(dead.detail).toMatch(/server login has been failing|no server connection to pg1/);

      await router.hold(target, 2000);
      const paused = await router.witness(target, 5000, 'pg-handover-test');
      expect(paused).toMatchObject({ verdict: 'unknown', detail: 'appdb is paused: its clients wait by design' });
      await router.release([target]);
      // A login begun for a witness nobody asked is closed with the router.
      router.prepareWitness!('pg-handover-test', 5000);
    } finally {
      await router.close();
    }
  });
});
