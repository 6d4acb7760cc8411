/**
 * A password given in the inventory, the environment, a URI or a replica's primary_conninfo never
 * appears in stdout, stderr or the journal, through dry, failing and succeeding switchovers, and
 * inside errors the driver produces.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { fileURLToPath } from 'node:url';
import { nodeConn, sql, underLoad, waitUntilStreaming } from './support/cluster.js';
import { describe, expect, test } from './support/fixtures.js';

const BIN = fileURLToPath(new URL('../../bin/pg-handover.js', import.meta.url));

describe('secrets', () => {
  test('no password appears in any output or journal', async ({ sandbox }) => {
    const pgpass = readFileSync(sandbox.manifest.passfile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(':'));
    const password = (user: string) => pgpass.find((f) => f[3] === user)![4]!;
    // The replication password has a space, a quote, a backslash and a double quote: it must be
    // masked wherever it travels (conninfo-escaped, inside SQL literals, inside JSON).
    const secrets = {
      superuser: password('handover'),
      replication: `Rep l'ic\\a"tor-7QX`,
      app: password('app'),
      admin: password('pgbadmin'),
      wrong: 'wrong-Secret-4711',
    };
    const ports = sandbox.manifest.nodes.map((n) => n.port);
    const pooler = sandbox.manifest.poolers[0]!;

    await sql(
      nodeConn(sandbox, 'pg1', 'postgres'),
      `ALTER ROLE replicator PASSWORD '${secrets.replication.replace(/'/g, "''")}'`,
    );
    const conninfoPassword = `'${secrets.replication.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    // Replicas that carry the replication password in primary_conninfo, as many real ones do.
    for (const name of ['pg2', 'pg3']) {
      const conninfo = `host=127.0.0.1 port=${ports[0]} user=replicator password=${conninfoPassword} application_name=${name}`;
      await sql(
        nodeConn(sandbox, name, 'postgres'),
        `ALTER SYSTEM SET primary_conninfo = '${conninfo.replace(/'/g, "''")}'`,
      );
      await sql(nodeConn(sandbox, name, 'postgres'), 'SELECT pg_reload_conf()');
    }
    const node = (i: number, auth: Record<string, string>) => ({
      name: `pg${i + 1}`,
      dsn: `host=127.0.0.1 port=${ports[i]} user=handover dbname=postgres`,
      ...auth,
      data_dir: sandbox.manifest.nodes[i]!.dataDir,
      bin_dir: sandbox.manifest.pgBin,
      host_access: { kind: 'local', run_as: sandbox.manifest.osUser ?? process.env.USER },
    });
    const inventory = (pg3Password: string) =>
      stringify({
        cluster: 'secretive',
        nodes: [
          {
            ...node(0, {}),
            dsn: `host=127.0.0.1 port=${ports[0]} user=handover dbname=postgres password=${secrets.superuser}`,
          },
          node(1, { password: '${env:PGH_TEST_SECRET}' }),
          node(2, { password: pg3Password }),
        ],
        poolers: [
          {
            name: 'pgbouncer',
            admin_dsn: `postgresql://pgbadmin:${secrets.admin}@127.0.0.1:${pooler.port}/pgbouncer`,
            config_file: pooler.configFile,
            databases: ['appdb'],
            app_dsn: `host=127.0.0.1 port=${pooler.port} user=app dbname=appdb password='${secrets.app}'`,
          },
        ],
      });
    const good = join(sandbox.dir, 'secret-inventory.yaml');
    const wrong = join(sandbox.dir, 'wrong-inventory.yaml');
    await writeFile(good, inventory('${env:PGH_TEST_SECRET}'));
    await writeFile(wrong, inventory('${env:PGH_WRONG_SECRET}'));
    const stuck = join(sandbox.dir, 'stuck.yaml');
    await writeFile(
      stuck,
      'name: stuck\nsteps:\n  - kind: preflight\n  - kind: sql\n    node: target\n    sql: SELECT pg_wal_replay_pause()\n  - kind: fence-writes\n  - kind: wait-catchup\n    timeout: 500ms\n  - kind: promote\n  - kind: repoint-pooler\n  - kind: resume\n',
    );

    const journalDir = join(sandbox.dir, 'runs');
    const env = { PGH_TEST_SECRET: secrets.superuser, PGH_WRONG_SECRET: secrets.wrong };
    const cli = (...args: string[]) => execa('node', [BIN, ...args], { reject: false, stdin: 'ignore', env });
    const outputs: string[] = [];
    const record = async (args: string[], expectedExit: number) => {
      const result = await cli(...args);
      outputs.push(String(result.stdout), String(result.stderr));
      expect(result.exitCode, String(result.stderr)).toBe(expectedExit);
      return result;
    };
    await record(['status', '-i', good], 0);
    await record(['status', '-i', good, '--json'], 0);
    await record(['promote', '-i', good, '--dry-run', '--target', 'pg2'], 0);
    const refused = await record(['promote', '-i', wrong, '--dry-run', '--target', 'pg3'], 3);
    expect(String(refused.stdout)).toMatch(/password authentication failed for user "handover"/);
    await record(['promote', '-i', good, '--yes', '--target', 'pg2', '-p', stuck, '--journal-dir', journalDir], 4);
    await sql(nodeConn(sandbox, 'pg2', 'postgres'), 'SELECT pg_wal_replay_resume()');
    await waitUntilStreaming(sandbox, 'pg2', 'pg1');
    const { load } = await underLoad(sandbox, () =>
      record(['promote', '-i', good, '--yes', '--target', 'pg2', '--journal-dir', journalDir], 0),
    );
    expect(load.missing).toBe(0);
    await record(['promote', '-i', good, '--yes', '--json', '--target', 'pg1', '--journal-dir', journalDir], 0);

    // Every file the runs left: three journals, and the last sight of the primary (for a failover).
    const files = readdirSync(journalDir);
    expect(files.filter((f) => f.endsWith('.jsonl')).length).toBe(3);
    expect(files.filter((f) => f.startsWith('last-seen-')).length).toBe(1);
    const journals = files.map((f) => readFileSync(join(journalDir, f), 'utf8'));
    const everything = [...outputs, ...journals].join('\n');
    expect(everything).toContain('password=***');
    for (const [name, secret] of Object.entries(secrets)) {
      expect(everything.includes(secret), `${name} password leaked`).toBe(false);
    }
    // Whatever escaping it went through, its plain tail would show.
    expect(everything.includes('tor-7QX'), 'replication password leaked in an escaped form').toBe(false);
    expect(everything.includes('Rep l'), 'replication password leaked in an escaped form').toBe(false);
  });
});
