/**
 * `check` for monitors and CI: exit codes and Prometheus metrics when the cluster is ready, when
 * replay lags past the limit, when a replica is down, when the primary is down, and what a new
 * client meets through a pooler that is down.
 */
import { execa } from 'execa';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { postmasterPid } from '../../src/sandbox/control.js';
import { waitGone } from '../../src/shell/processes.js';
import { sleep } from '../../src/util/time.js';
import { cli } from './support/cli.js';
import { nodeConn, sql, stopPooler } from './support/cluster.js';
import { describe, expect, test, type SandboxFixture } from './support/fixtures.js';

const BIN = fileURLToPath(new URL('../../bin/pg-handover.js', import.meta.url));
const check = async (sandbox: SandboxFixture) => {
  const result = await cli(['check', '-i', sandbox.manifest.inventoryFile, '--json']);
  return { exitCode: result.exitCode, json: JSON.parse(result.stdout) as Record<string, any> };
};

async function kill(sandbox: SandboxFixture, node: string): Promise<void> {
  const pid = postmasterPid(sandbox.manifest, node)!;
  process.kill(pid, 'SIGKILL');
  await waitGone([pid], 5000);
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** Runs `check --watch` until its first metrics are served; returns the text. */
async function scrape(sandbox: SandboxFixture): Promise<string> {
  const port = await freePort();
  const child = execa(
    'node',
    [BIN, 'check', '-i', sandbox.manifest.inventoryFile, '--watch', '500ms', '--metrics-port', String(port)],
    { reject: false, stdin: 'ignore' },
  );
  try {
    for (let i = 0; i < 100; i++) {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      if (/pg_handover_last_check_timestamp_seconds [1-9]/.test(text)) return text;
      await sleep(100);
    }
    throw new Error('no metrics served');
  } finally {
    child.kill('SIGINT');
    expect((await child).exitCode).toBe(0);
  }
}

describe('check', () => {
  test('ready: exit 0, both procedures ready, metrics say so', async ({ sandbox }) => {
    const { exitCode, json } = await check(sandbox);
    expect(exitCode).toBe(0);
    expect(json.verdict).toBe('ready');
    expect([json.switchover.ready, json.failover.ready]).toEqual([true, true]);
    const metrics = await scrape(sandbox);
    expect(metrics).toMatch(/pg_handover_ready\{procedure="switchover"\} 1/);
    expect(metrics).toMatch(/pg_handover_ready\{procedure="failover"\} 1/);
    expect(metrics).toMatch(/pg_handover_replica_streaming\{node="pg2"\} 1/);
    expect(metrics).toMatch(/pg_handover_router_target\{router="pgbouncer",route="appdb",node="pg1"\} 1/);
  });

  test('lag over the limit: exit 3, no replica within the failover loss limit, the lag in the metrics', async ({
    sandbox,
  }) => {
    // The replicas stop receiving (a wrong port keeps their login), and the primary writes 4 MB more.
    for (const node of ['pg2', 'pg3']) {
      const setting = String(
        (await sql(nodeConn(sandbox, node), "SELECT setting FROM pg_settings WHERE name = 'primary_conninfo'"))[0]!
          .setting,
      );
      await sql(
        nodeConn(sandbox, node),
        `ALTER SYSTEM SET primary_conninfo = '${setting.replace(/port=\d+/, 'port=1').replace(/'/g, "''")}'`,
      );
      await sql(nodeConn(sandbox, node), 'SELECT pg_reload_conf()');
    }
    await sql(
      nodeConn(sandbox, 'pg1'),
      "CREATE TABLE filler AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 4000) g",
    );
    const { exitCode, json } = await check(sandbox);
    expect(exitCode).toBe(3);
    expect(json.failover.ready).toBe(false);
    expect(json.failover.reasons.join('\n')).toMatch(
      /lacks \d+ bytes of what pg1 flushed, over max_data_loss_bytes 1048576/,
    );
    const metrics = await scrape(sandbox);
    const lag = Number(/pg_handover_replica_lag_bytes\{node="pg2"\} (\d+)/.exec(metrics)?.[1]);
    expect(lag).toBeGreaterThan(1024 * 1024);
    expect(metrics).toMatch(/pg_handover_ready\{procedure="failover"\} 0/);
    expect(metrics).toMatch(/pg_handover_replica_streaming\{node="pg2"\} 0/);
  });

  test('a replica down: exit 3, named, and node_up 0', async ({ sandbox }) => {
    await kill(sandbox, 'pg3');
    const { exitCode, json } = await check(sandbox);
    expect(exitCode).toBe(3);
    expect(json.failover.reasons).toContain('pg3 does not answer');
    expect(await scrape(sandbox)).toMatch(/pg_handover_node_up\{node="pg3"\} 0/);
  });

  test('the primary down: exit 7, a failover is ready', async ({ sandbox }) => {
    await kill(sandbox, 'pg1');
    const { exitCode, json } = await check(sandbox);
    expect(exitCode).toBe(7);
    expect(json.verdict).toBe('unreachable');
    expect(json.failover).toMatchObject({ ready: true, target: 'pg2' });
    const metrics = await scrape(sandbox);
    expect(metrics).toMatch(/pg_handover_node_up\{node="pg1"\} 0/);
    expect(metrics).toMatch(/pg_handover_ready\{procedure="failover"\} 1/);
    expect(metrics).toMatch(/pg_handover_ready\{procedure="switchover"\} 0/);
  });

  test('the pooler stopped: exit 3, and said as what the tool saw (no answer from here), not as a refusal', async ({
    sandbox,
  }) => {
    await stopPooler(sandbox, 0);
    const { exitCode, json } = await check(sandbox);
    expect(exitCode).toBe(3);
    const clients = (json.routers as Array<{ name: string; clients?: string[] }>)[0]!.clients!.join();
    expect(clients).toMatch(/^a login through it from here failed: it does not answer itself \(.*ECONNREFUSED/);
    expect(clients).not.toMatch(/refused:/);
  });
});
