/**
 * TLS as production asks for it: sslmode=verify-full against the cluster's own CA, end to end
 * (the sandbox's pg_hba refuses the tool's user without TLS), and a wrong CA refused up front.
 */
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { cli, reportOf } from './support/cli.js';
import { nodeConn, sql } from './support/cluster.js';
import { describe, expect, startSandbox, stopSandbox, test } from './support/fixtures.js';

describe('TLS', () => {
  test('a switchover with sslmode=verify-full; a login without TLS is refused; a wrong CA fails preflight with one clear line', async () => {
    const sandbox = await startSandbox(2, 1, 'plain', true);
    try {
      const inventory = sandbox.manifest.inventoryFile;
      expect(sandbox.inventory.nodes[0]!.conn.extra).toEqual({
        sslmode: 'verify-full',
        sslrootcert: sandbox.manifest.tlsCaFile,
      });
      await expect(sql({ ...nodeConn(sandbox, 'pg1', 'postgres'), extra: {} }, 'SELECT 1')).rejects.toThrow(
        /no encryption|rejects connection/,
      );

      const result = await cli(['switchover', '--inventory', inventory, '--yes', '--json', '--target', 'pg2']);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(reportOf(result).primaryNow).toBe('pg2');

      const otherCa = join(sandbox.dir, 'other-ca.crt');
      await execa('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=another CA',
        '-keyout',
        join(sandbox.dir, 'other-ca.key'),
        '-out',
        otherCa,
      ]);
      const wrong = join(sandbox.dir, 'wrong-ca.yaml');
      await writeFile(wrong, (await readFile(inventory, 'utf8')).replaceAll(sandbox.manifest.tlsCaFile!, otherCa));
      const refused = await cli(['switchover', '--inventory', wrong, '--dry-run']);
      expect(refused.exitCode).toBe(3);
      expect(refused.stdout).toMatch(
        new RegExp(
          `FAIL +nodes-reachable +pg2 is unreachable: cannot connect to 127\\.0\\.0\\.1:\\d+: TLS: the server's certificate is not accepted with sslmode=verify-full and sslrootcert=${otherCa.replace(/[.]/g, '\\.')}`,
        ),
      );
    } finally {
      await stopSandbox(sandbox);
    }
  });
});
