/**
 * Replication as operators set it up, through round trips: slots named by the operator, not by
 * the tool, are tracked by the standby that uses them, and none is left inactive (pinning WAL).
 */
import { cli, reportOf } from './support/cli.js';
import { appConn, nodeConn, settledTopology, sql, underLoad } from './support/cluster.js';
import { describe, expect, test } from './support/fixtures.js';
import { sleep } from '../../src/util/time.js';

describe('replication slots', () => {
  test('a round trip with slots named by the operator leaves no inactive slot of a cluster member on any node', async ({
    sandbox,
  }) => {
    const on = (node: string, text: string) => sql(nodeConn(sandbox, node, 'postgres'), text);
    for (const [replica, slot] of [
      ['pg2', 'standby_a'],
      ['pg3', 'standby_b'],
    ] as const) {
      await on('pg1', `SELECT pg_create_physical_replication_slot('${slot}', true)`);
      await on(replica, `ALTER SYSTEM SET primary_slot_name = '${slot}'`);
      await on(replica, 'SELECT pg_reload_conf()');
    }
    for (
      let i = 0;
      (await on('pg1', `SELECT 1 FROM pg_replication_slots WHERE slot_name IN ('standby_a', 'standby_b') AND active`))
        .length < 2;
      i++
    ) {
      if (i > 100) throw new Error('replicas did not move to the new slots');
      await sleep(100);
    }
    await on(
      'pg1',
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('pg2', 'pg3')`,
    );

    for (const target of ['pg2', 'pg1']) {
      const result = await cli([
        'switchover',
        '--inventory',
        sandbox.manifest.inventoryFile,
        '--yes',
        '--target',
        target,
      ]);
      expect(result.exitCode, result.stderr).toBe(0);
    }
    const t = await settledTopology(sandbox);
    expect(t.primaries).toEqual(['pg1']);
    expect(t.upstreamOf).toEqual({ pg2: 'pg1', pg3: 'pg1' });
    const inactive: Record<string, unknown[]> = {};
    for (const node of ['pg1', 'pg2', 'pg3'])
      inactive[node] = (await on(node, 'SELECT slot_name FROM pg_replication_slots WHERE NOT active')).map(
        (r) => r.slot_name,
      );
    expect(inactive).toEqual({ pg1: [], pg2: [], pg3: [] });
  });

  test('synchronous replication: the new primary keeps a synchronous standby, the names translated, and commits never hang', async ({
    sandbox,
  }) => {
    const on = (node: string, text: string) => sql(nodeConn(sandbox, node, 'postgres'), text);
    await on('pg1', "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (pg2, pg3)'");
    await on('pg1', 'SELECT pg_reload_conf()');
    for (
      let i = 0;
      (await on('pg1', "SELECT 1 FROM pg_stat_replication WHERE sync_state = 'quorum'")).length < 2;
      i++
    ) {
      if (i > 100) throw new Error('pg2 and pg3 did not become quorum standbys');
      await sleep(100);
    }
    const { value: result, load } = await underLoad(sandbox, () =>
      cli(['switchover', '--inventory', sandbox.manifest.inventoryFile, '--yes', '--json', '--target', 'pg2']),
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
    expect(reportOf(result).notes).toContain(
      "synchronous_standby_names on pg2 set to 'ANY 1 (pg1, pg3)' (was 'ANY 1 (pg2, pg3)' on pg1)",
    );
    expect(await on('pg2', 'SHOW synchronous_standby_names')).toEqual([
      { synchronous_standby_names: 'ANY 1 (pg1, pg3)' },
    ]);
    const standbys = await on('pg2', 'SELECT application_name, sync_state FROM pg_stat_replication ORDER BY 1');
    expect(standbys).toEqual([
      { application_name: 'pg1', sync_state: 'quorum' },
      { application_name: 'pg3', sync_state: 'quorum' },
    ]);
    // A commit waiting for a standby that never confirms would hang for ever: the statement
    // timeout turns that into an error, so this commit's success is the proof, not its speed.
    await sql(
      appConn(sandbox),
      "SET statement_timeout = '30s'; CREATE TABLE sync_check (n int); INSERT INTO sync_check VALUES (1)",
    );
  });
});
