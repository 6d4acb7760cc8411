import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { Connections } from '../../src/cluster/connections.js';
import { observeCluster } from '../../src/cluster/observe.js';
import { primariesOf, replicasOf } from '../../src/model/cluster-state.js';
import { sandboxDown, sandboxPids } from '../../src/sandbox/down.js';
import { readManifest } from '../../src/sandbox/manifest.js';
import { isAlive } from '../../src/shell/processes.js';
import { sleep } from '../../src/util/time.js';
import { describe, expect, startSandbox, stopSandbox, test } from './support/fixtures.js';

const run = promisify(execFile);

describe('sandbox', () => {
  test('replication really works: rows written through PgBouncer are on every replica', async ({ sandbox }) => {
    const app = sandbox.inventory.poolers[0]!.app!;
    const client = new pg.Client({
      host: app.host,
      port: app.port,
      user: app.user,
      password: app.password,
      database: app.dbname,
    });
    await client.connect();
    await client.query('CREATE TABLE t (id int PRIMARY KEY, note text)');
    await client.query(`INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g`);
    await client.end();

    for (const node of sandbox.inventory.nodes.slice(1)) {
      const replica = new pg.Client({ ...node.conn, database: 'appdb', password: node.conn.password });
      await replica.connect();
      let count = 0;
      for (let i = 0; i < 100 && count < 100; i++) {
        count = Number(
          (await replica.query('SELECT count(*) AS n FROM t').catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n,
        );
        if (count < 100) await sleep(20);
      }
      await replica.end();
      expect(count, `rows on ${node.name}`).toBe(100);
    }
  });

  test('status reports one primary and N streaming replicas, and PgBouncer pointing at the primary', async ({
    sandbox,
  }) => {
    const connections = await Connections.open(sandbox.inventory);
    const state = await observeCluster(connections);
    await connections.close();
    expect(primariesOf(state).map((n) => n.name)).toEqual(['pg1']);
    const replicas = replicasOf(state);
    expect(replicas.map((n) => n.name)).toEqual(['pg2', 'pg3']);
    for (const replica of replicas) expect(replica.walReceiver?.status).toBe('streaming');
    expect(primariesOf(state)[0]!.replication.filter((p) => p.state === 'streaming')).toHaveLength(2);
    const pooler = state.poolers[0]!;
    expect(pooler.reachable && pooler.routes.find((d) => d.name === 'appdb')?.port).toBe(
      sandbox.manifest.nodes[0]!.port,
    );
  });

  test('the CLI: up, status, down, and nothing of the sandbox is left running', async () => {
    const sandbox = await startSandbox(1);
    try {
      const cli = ['bin/pg-handover.js', 'sandbox', 'status', '--dir', sandbox.dir, '--json'];
      const { stdout } = await run('node', cli);
      const status = JSON.parse(stdout) as { nodes: Array<{ role: string; receiverStatus: string | null }> };
      expect(status.nodes.map((n) => n.role)).toEqual(['primary', 'replica']);
      expect(status.nodes[1]!.receiverStatus).toBe('streaming');

      const pids = sandboxPids(readManifest(sandbox.dir));
      expect(pids.length).toBeGreaterThan(4);
      await sandboxDown(sandbox.dir);
      expect(pids.filter(isAlive)).toEqual([]);
    } finally {
      await stopSandbox(sandbox);
    }
  });
});

describe('pg_control read directly', () => {
  test('says what pg_controldata says, running and shut down', async ({ sandbox }) => {
    const { readControlFile } = await import('../../src/postgres/control-file.js');
    const { parseControlData } = await import('../../src/postgres/controldata.js');
    const { runAsIdentity } = await import('../../src/shell/os-user.js');
    const { run: runAs } = await import('../../src/shell/exec.js');
    const node = sandbox.manifest.nodes[0]!;
    const viaBinary = async () =>
      parseControlData(
        String(
          (await run(`${sandbox.manifest.pgBin}/pg_controldata`, ['-D', node.dataDir], { env: { LC_ALL: 'C' } }))
            .stdout,
        ),
      );
    expect(await readControlFile(node.dataDir)).toEqual(await viaBinary());
    const stop = await runAs(
      [`${sandbox.manifest.pgBin}/pg_ctl`, '-D', node.dataDir, '-m', 'fast', '-w', 'stop'],
      runAsIdentity(sandbox.manifest.osUser, 'test'),
    );
    expect(stop.ok).toBe(true);
    const stopped = await readControlFile(node.dataDir);
    expect(stopped).toEqual(await viaBinary());
    expect(stopped?.state).toBe('shut down');
  });
});
