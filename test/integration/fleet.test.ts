/**
 * A fleet's wave run side by side: four clusters, four switchovers at the same time, each under
 * its own write load through its own PgBouncer. Runs on different inventories do not interfere
 * (journals and lock files beside each inventory, one guardian each, free ports): all succeed,
 * 0 acknowledged commits lost, 0 client errors, and each journal names only its own cluster.
 */
import { readFileSync } from 'node:fs';
import { createLoadTable, missingAcknowledged, WriteLoad } from '../../src/sandbox/write-load.js';
import { sleep } from '../../src/util/time.js';
import { cli, reportOf } from './support/cli.js';
import pg from 'pg';
import { FLEET_LOCK_CLASS } from '../../src/runner/fleet-lock.js';
import type { ConnParams } from '../../src/inventory/model.js';
import { appConn, nodeConn, sql } from './support/cluster.js';

const pgConn = (c: ConnParams) => ({
  host: c.host,
  port: c.port,
  user: c.user,
  password: c.password,
  database: c.dbname,
});
import { describe, expect, startSandbox, stopSandbox, test, type SandboxFixture } from './support/fixtures.js';

describe('a wave of clusters', () => {
  test('four switchovers on four sandboxes at the same time: all succeed, 0 lost, 0 errors, journals apart', async () => {
    const sandboxes: SandboxFixture[] = [];
    try {
      for (let i = 0; i < 4; i++) sandboxes.push(await startSandbox(1));
      const loads = await Promise.all(
        sandboxes.map(async (sandbox, i) => {
          await createLoadTable(appConn(sandbox), `wave_${i}`);
          const load = new WriteLoad({ conn: appConn(sandbox), clients: 2, rate: 100, table: `wave_${i}` });
          load.start();
          return load;
        }),
      );
      await sleep(500);
      const results = await Promise.all(
        sandboxes.map((sandbox) =>
          cli(['switchover', '-i', sandbox.manifest.inventoryFile, '--yes', '--json', '-t', 'pg2']),
        ),
      );
      await sleep(500);
      const outcomes = await Promise.all(loads.map((load) => load.stop()));
      for (const [i, result] of results.entries()) {
        expect(result.exitCode, result.stderr).toBe(0);
        const report = reportOf(result);
        expect(report.primaryNow).toBe('pg2');
        expect(readFileSync(report.journal, 'utf8')).toContain(sandboxes[i]!.manifest.inventoryFile);
        for (const other of sandboxes.filter((_, j) => j !== i))
          expect(readFileSync(report.journal, 'utf8')).not.toContain(other.manifest.inventoryFile);
        expect(outcomes[i]!.errors).toBe(0);
        expect(await missingAcknowledged(nodeConn(sandboxes[i]!, 'pg2'), outcomes[i]!.records, `wave_${i}`)).toBe(0);
      }
      process.stderr.write(
        `wave: 4 switchovers side by side, write pauses ${results.map((r) => reportOf(r).writePauseMs).join(', ')} ms, ${outcomes.reduce((n, o) => n + o.acknowledged, 0)} commits acknowledged, 0 lost\n`,
      );
    } finally {
      await Promise.all(sandboxes.map((sandbox) => stopSandbox(sandbox)));
    }
  });

  test('--fleet-lock: with every slot taken the run is refused (exit 3, nothing changed) naming the holder; with a free slot it runs', async () => {
    const [shared, cluster] = [await startSandbox(1), await startSandbox(1)];
    const holder = new pg.Client({
      ...pgConn(nodeConn(shared, 'pg1', 'postgres')),
      application_name: 'another orchestrator',
    });
    try {
      const lockDb = nodeConn(shared, 'pg1', 'postgres');
      const dsn = `host=${lockDb.host} port=${lockDb.port} user=${lockDb.user} dbname=postgres`;
      const env = { PGPASSFILE: shared.manifest.passfile };
      await holder.connect();
      await holder.query('SELECT pg_advisory_lock($1, 1)', [FLEET_LOCK_CLASS]);
      const refused = await cli(
        ['switchover', '-i', cluster.manifest.inventoryFile, '--yes', '-t', 'pg2', '--fleet-lock', dsn],
        { env },
      );
      expect(refused.exitCode, refused.stderr).toBe(3);
      expect(refused.stderr).toMatch(
        /fleet-lock: all 1 slot\(s\) of the fleet lock are taken \("another orchestrator" from 127\.0\.0\.1 since .*\): nothing was changed/,
      );
      expect(refused.stderr).not.toContain(lockDb.password!);
      const [row] = await sql(nodeConn(cluster, 'pg1', 'postgres'), 'SELECT pg_is_in_recovery() AS r');
      expect(row!.r).toBe(false);
      const ran = await cli(
        [
          'switchover',
          '-i',
          cluster.manifest.inventoryFile,
          '--yes',
          '--json',
          '-t',
          'pg2',
          '--fleet-lock',
          dsn,
          '--fleet-slots',
          '2',
        ],
        { env },
      );
      expect(ran.exitCode, ran.stderr).toBe(0);
      expect(reportOf(ran).primaryNow).toBe('pg2');
      // Its slot went with the run: slot 2 is free again.
      const [free] = (await holder.query('SELECT pg_try_advisory_lock($1, 2) AS ok', [FLEET_LOCK_CLASS])).rows;
      expect(free.ok).toBe(true);
    } finally {
      await holder.end().catch(() => undefined);
      await Promise.all([stopSandbox(shared), stopSandbox(cluster)]);
    }
  });
});
