import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInventory, loadInventory } from '../../src/inventory/load.js';
import { parseYamlText } from '../../src/util/yaml-source.js';
import { BadInputError } from '../../src/errors.js';
import type { PgBouncerSpec } from '../../src/routers/pgbouncer/spec.js';

const node = (name: string, port: number, extra = '') =>
  `  - name: ${name}\n    dsn: host=127.0.0.1 port=${port} user=handover dbname=postgres\n${extra}`;
const pooler = `poolers:\n  - name: pgb\n    admin_dsn: host=127.0.0.1 port=6432 user=admin dbname=pgbouncer\n    config_file: /tmp/pgbouncer.ini\n    databases: [appdb]\n`;
const valid = `cluster: c1\nnodes:\n${node('pg1', 5432)}${node('pg2', 5433)}${pooler}`;

async function load(text: string, env: NodeJS.ProcessEnv = {}) {
  return buildInventory(parseYamlText(text, 'inv.yaml', 'inventory'), env);
}

describe('inventory', () => {
  it('a huge inventory is refused at once, naming the limit; more than 100 nodes is refused by field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgh-inv-'));
    const file = join(dir, 'big.yaml');
    writeFileSync(
      file,
      `cluster: c1\nnodes:\n${Array.from({ length: 20_000 }, (_, i) => node(`n${i}`, 5432)).join('')}${pooler}`,
    );
    // Refused by its size, before the YAML is parsed.
    await expect(loadInventory(file)).rejects.toThrow(/inventory \S+big.yaml: \d+\.\d MiB, over the 1 MiB limit/);
    await expect(
      load(`cluster: c1\nnodes:\n${Array.from({ length: 101 }, (_, i) => node(`n${i}`, 5432 + i)).join('')}${pooler}`),
    ).rejects.toThrow(/nodes: expected at most 100 nodes/);
  });

  it('accepts a valid inventory and normalises connections', async () => {
    const inventory = await load(valid);
    expect(inventory.nodes.map((n) => `${n.name}@${n.conn.host}:${n.conn.port}`)).toEqual([
      'pg1@127.0.0.1:5432',
      'pg2@127.0.0.1:5433',
    ]);
    expect((inventory.poolers[0] as PgBouncerSpec).admin.dbname).toBe('pgbouncer');
  });

  it('honours connect_timeout, options and TLS keys in a DSN', async () => {
    const inventory = await load(
      valid.replace(
        'dbname=postgres',
        "dbname=postgres connect_timeout=7 options='-c statement_timeout=0' sslmode=require",
      ),
    );
    expect(inventory.nodes[0]!.conn.extra).toEqual({
      connect_timeout: '7',
      options: '-c statement_timeout=0',
      sslmode: 'require',
    });
  });

  it('connect_address: how peers and poolers reach a node, when not as the tool does', async () => {
    const inventory = await load(
      valid.replace('  - name: pg2\n', '  - name: pg2\n    connect_address: "db-2.internal:5432"\n'),
    );
    expect(inventory.nodes.map((n) => n.connectAddress)).toEqual([undefined, { host: 'db-2.internal', port: 5432 }]);
  });

  it("a pooler's config file on its own host keeps its path as written", async () => {
    const inventory = await load(
      valid.replace(
        'config_file: /tmp/pgbouncer.ini',
        'config_file: /etc/pgbouncer/pgbouncer.ini\n    host_access: { kind: command, command: [ssh, pgb1] }',
      ),
    );
    const spec = inventory.poolers[0] as PgBouncerSpec;
    expect(spec.configFile).toBe('/etc/pgbouncer/pgbouncer.ini');
    expect(spec.hostAccess).toEqual({ kind: 'command', command: ['ssh', 'pgb1'] });
  });

  it('takes passwords from the environment without printing them', async () => {
    const text = valid.replace('dbname=postgres\n', 'dbname=postgres\n    password: ${env:PG_SECRET_X}\n');
    const inventory = await load(text, { PG_SECRET_X: 'hunter2-secret' });
    expect(inventory.nodes[0]!.conn.password).toBe('hunter2-secret');
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['empty file', '', /inventory is empty/],
    ['invalid YAML', 'nodes: [\n  - a: 1\n  b', /inv\.yaml:\d+: invalid YAML/],
    ['nodes missing', `cluster: c\n${pooler}`, /nodes: required \(expected array\)/],
    ['nodes not a list', `nodes: 3\n${pooler}`, /inv\.yaml:1 nodes: expected array, got 3/],
    ['one node only', `nodes:\n${node('pg1', 5432)}${pooler}`, /nodes: expected at least two nodes/],
    [
      'port not a number',
      valid.replace('port=5433', 'port=abc'),
      /inv\.yaml:6 nodes\[1\]\.dsn: port: expected integer 1–65535, got "abc"/,
    ],
    [
      'port field out of range',
      `nodes:\n  - name: a\n    host: h\n    port: 70000\n${node('b', 1)}${pooler}`,
      /nodes\[0\]\.port: expected integer 1–65535, got 70000/,
    ],
    [
      'port field a string',
      `nodes:\n  - name: a\n    host: h\n    port: "abc"\n${node('b', 1)}${pooler}`,
      /nodes\[0\]\.port: expected integer 1–65535, got "abc"/,
    ],
    ['duplicate node names', valid.replace('name: pg2', 'name: pg1'), /nodes\[1\]\.name: duplicate node name "pg1"/],
    ['same endpoint twice', valid.replace('port=5433', 'port=5432'), /nodes\[1\]: same host and port as nodes\[0\]/],
    [
      'unknown field',
      valid.replace('cluster: c1', 'cluster: c1\ncolour: blue'),
      /\(top level\): unknown field "colour"/,
    ],
    [
      'unknown node field',
      valid.replace('  - name: pg2', '  - name: pg2\n    role: replica'),
      /nodes\[1\]: unknown field "role"/,
    ],
    ['bad node name', valid.replace('name: pg2', 'name: "pg 2"'), /nodes\[1\]\.name: expected letters/],
    [
      'dsn and host both',
      valid.replace('  - name: pg2\n', '  - name: pg2\n    host: x\n'),
      /nodes\[1\]\.dsn: give either dsn or host/,
    ],
    [
      'unknown dsn key',
      valid.replace('dbname=postgres', 'dbname=postgres colour=red'),
      /nodes\[0\]\.dsn: unknown connection parameter "colour"/,
    ],
    ['dsn without host', valid.replace('host=127.0.0.1 port=5432', 'port=5432'), /nodes\[0\]\.dsn: a host is required/],
    [
      'dsn garbage',
      valid.replace('host=127.0.0.1 port=5432 user=handover dbname=postgres', 'host 127.0.0.1'),
      /nodes\[0\]\.dsn: expected key=value/,
    ],
    [
      'unterminated quote',
      valid.replace('dbname=postgres', "dbname='postgres"),
      /nodes\[0\]\.dsn: unterminated quoted value/,
    ],
    [
      'socket directory host',
      valid.replace('host=127.0.0.1 port=5432', 'host=/var/run/postgresql port=5432'),
      /expected a TCP host/,
    ],
    [
      'missing env var',
      valid.replace('dbname=postgres\n', 'dbname=postgres\n    password: ${env:NOPE_NOT_SET}\n'),
      /nodes\[0\]\.password: environment variable NOPE_NOT_SET is not set/,
    ],
    [
      'host_access unknown kind',
      valid.replace('  - name: pg2\n', '  - name: pg2\n    data_dir: /d\n    host_access: { kind: ssh }\n'),
      /nodes\[1\]\.host_access\.kind: expected kind "local" or "command"/,
    ],
    [
      'host_access command empty',
      valid.replace(
        '  - name: pg2\n',
        '  - name: pg2\n    data_dir: /d\n    host_access: { kind: command, command: [] }\n',
      ),
      /host_access\.command: expected at least one word/,
    ],
    ['poolers missing', `nodes:\n${node('pg1', 5432)}${node('pg2', 5433)}`, /poolers: required/],
    [
      'pooler without databases',
      valid.replace('databases: [appdb]', 'databases: []'),
      /poolers\[0\]\.databases: expected at least one pooled database/,
    ],
    [
      'pooler admin dsn not pgbouncer db',
      valid.replace('dbname=pgbouncer', 'dbname=appdb'),
      /poolers\[0\]\.admin_dsn: expected dbname=pgbouncer/,
    ],
    [
      'connect_address without a port',
      valid.replace('  - name: pg2\n', '  - name: pg2\n    connect_address: pg2\n'),
      /nodes\[1\]\.connect_address: expected host:port/,
    ],
    [
      'connect_address port out of range',
      valid.replace('  - name: pg2\n', '  - name: pg2\n    connect_address: "pg2:70000"\n'),
      /nodes\[1\]\.connect_address: expected host:port with a port 1–65535, got "pg2:70000"/,
    ],
    [
      'pooler on another host, relative config_file',
      valid.replace(
        'config_file: /tmp/pgbouncer.ini',
        'config_file: pgbouncer.ini\n    host_access: { kind: command, command: [ssh, pgb1] }',
      ),
      /poolers\[0\]\.config_file: expected an absolute path on the host that host_access reaches/,
    ],
    [
      'duplicate pooled database',
      valid.replace('databases: [appdb]', 'databases: [appdb, appdb]'),
      /poolers\[0\]\.databases\[1\]: duplicate database "appdb"/,
    ],
    [
      'passfile missing',
      valid.replace('cluster: c1', 'cluster: c1\npassfile: /nonexistent/pgpass'),
      /passfile: file not found/,
    ],
    [
      'duplicate YAML key',
      valid.replace('cluster: c1', 'cluster: c1\ncluster: c2'),
      /invalid YAML: Map keys must be unique/,
    ],
    [
      'libpq key that would be ignored',
      valid.replace('dbname=postgres', 'dbname=postgres hostaddr=10.0.0.1'),
      /nodes\[0\]\.dsn: hostaddr: not supported here \(connections go to host; put the address in host=\); supported: sslmode, sslrootcert, sslcert, sslkey, connect_timeout, options/,
    ],
    [
      'service file reference',
      valid.replace('dbname=postgres', 'dbname=postgres service=prod'),
      /nodes\[0\]\.dsn: service: not supported here \(pg_service\.conf is not read/,
    ],
    [
      'connect_timeout not a number',
      valid.replace('dbname=postgres', 'dbname=postgres connect_timeout=soon'),
      /nodes\[0\]\.dsn: connect_timeout: expected a whole number of seconds, got "soon"/,
    ],
    [
      'uri with bad port',
      valid.replace('host=127.0.0.1 port=5432 user=handover dbname=postgres', 'postgresql://u@h:99999/db'),
      /nodes\[0\]\.dsn: malformed postgresql:\/\/ URI$/,
    ],
  ];

  it.each(malformed)('rejects %s with a one-line message naming the field', async (_name, text, expected) => {
    const error = await load(text).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BadInputError);
    const message = (error as Error).message;
    expect(message).toMatch(expected);
    expect(message).not.toContain('\n');
  });

  it('reads the file from disk and names an unreadable one', async () => {
    const { loadInventory } = await import('../../src/inventory/load.js');
    await expect(loadInventory('/nonexistent/inventory.yaml')).rejects.toThrow(/cannot read file \(ENOENT\)/);
  });
});

describe('discovered paths', () => {
  it('a node with host access takes its server’s data directory and binaries unless the inventory names them', async () => {
    const { withDiscovered } = await import('../../src/inventory/discovered.js');
    const inventory = await load(valid.replace('  - name: pg2\n', '  - name: pg2\n    host_access: { kind: local }\n'));
    const found = withDiscovered(inventory, {
      pg1: { dataDir: '/srv/pg1' },
      pg2: { dataDir: '/var/lib/postgresql/15/main', binDir: '/usr/lib/postgresql/15/bin' },
    });
    expect(found.nodes[0]).toEqual(inventory.nodes[0]); // no host access: nothing to act with
    expect(found.nodes[1]).toMatchObject({
      dataDir: '/var/lib/postgresql/15/main',
      binDir: '/usr/lib/postgresql/15/bin',
      logFile: undefined,
    });
    const named = withDiscovered(
      await load(
        valid.replace('  - name: pg2\n', '  - name: pg2\n    data_dir: /mine\n    host_access: { kind: local }\n'),
      ),
      { pg2: { dataDir: '/theirs' } },
    );
    expect(named.nodes[1]!.dataDir).toBe('/mine');
  });
});
