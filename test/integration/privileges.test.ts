/**
 * The documented least-privilege role (sql/least-privilege.sql) is enough for a whole switchover,
 * both ways with the old primary rejoining; a missing grant is named by preflight before anything
 * changes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cli } from './support/cli.js';
import { nodeConn, settledTopology, sql } from './support/cluster.js';
import { describe, expect, test } from './support/fixtures.js';

describe('least privilege', () => {
  test('switchover both ways as the least-privilege role; without EXECUTE on pg_promote, preflight refuses and says so', async ({
    sandbox,
  }) => {
    const superuser = nodeConn(sandbox, 'pg1', 'postgres');
    await sql(superuser, await readFile('sql/least-privilege.sql', 'utf8'));
    await sql(superuser, "ALTER ROLE handover_ops PASSWORD 'least-privilege-pw'");
    const inventory = join(sandbox.dir, 'least-privilege.yaml');
    await writeFile(
      inventory,
      (await readFile(sandbox.manifest.inventoryFile, 'utf8')).replaceAll(
        'user=handover dbname=postgres',
        'user=handover_ops dbname=postgres password=least-privilege-pw',
      ),
    );

    for (const target of ['pg2', 'pg1']) {
      const result = await cli(['switchover', '--inventory', inventory, '--yes', '--target', target]);
      expect(result.exitCode, result.stderr).toBe(0);
      const t = await settledTopology(sandbox);
      expect(t.primaries).toEqual([target]);
      expect(Object.values(t.upstreamOf)).toEqual([target, target]);
    }

    await sql(superuser, 'REVOKE EXECUTE ON FUNCTION pg_promote(boolean, integer) FROM handover_ops');
    const refused = await cli(['switchover', '--inventory', inventory, '--dry-run', '--target', 'pg2']);
    expect(refused.exitCode).toBe(3);
    expect(refused.stdout).toMatch(
      /FAIL +privileges +pg1 lacks GRANT EXECUTE ON FUNCTION pg_promote\(boolean, integer\); pg2 lacks GRANT EXECUTE ON FUNCTION pg_promote\(boolean, integer\)/,
    );
    expect(refused.stdout).not.toContain('least-privilege-pw');
  });
});
