import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DsnError, formatDsn, parseConninfo, parseDsn } from '../../src/inventory/dsn.js';
import { findDatabaseEntries, repointText } from '../../src/routers/pgbouncer/config-file.js';
import { parseControlData } from '../../src/postgres/controldata.js';
import { conninfoTowards, slotNameFor } from '../../src/postgres/conninfo.js';
import { formatLsn, lsnDiff, maxLsn, parseLsn } from '../../src/model/lsn.js';
import { redact, registerSecret } from '../../src/util/secrets.js';
import { parseDuration } from '../../src/util/time.js';

describe('LSN math', () => {
  it('parses and formats exactly, past 32 bits', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(parseLsn('nonsense')).toBeUndefined();
  });
  it('diffs never go negative, and unknowns stay unknown', () => {
    expect(lsnDiff(parseLsn('1/0'), parseLsn('0/FFFFFFFF'))).toBe(1n);
    expect(lsnDiff(parseLsn('0/10'), parseLsn('0/20'))).toBe(0n);
    expect(lsnDiff(undefined, 1n)).toBeUndefined();
    expect(maxLsn(undefined, 3n, 7n, 5n)).toBe(7n);
  });
});

describe('connection strings', () => {
  it('parses key=value with quotes and escapes', () => {
    expect(parseDsn("host=db1 port=5433 user='a b' password='it\\'s'")).toEqual({
      host: 'db1',
      port: '5433',
      user: 'a b',
      password: "it's",
    });
  });
  it('parses URIs', () => {
    expect(parseDsn('postgresql://u:secret@db1:5433/app')).toMatchObject({
      host: 'db1',
      port: '5433',
      user: 'u',
      password: 'secret',
      dbname: 'app',
    });
  });
  it('round-trips through formatDsn', () => {
    const map = { host: 'h', user: 'a b', passfile: "/x/it's" };
    expect(parseDsn(formatDsn(map))).toEqual(map);
  });
  const bad: Array<[string, RegExp]> = [
    ['', /empty connection string/],
    ['host', /expected key=value at character 1/],
    ['host=a port=', /port: expected integer/],
    ['host=a port=0', /port: expected integer 1–65535, got "0"/],
    ['host=a port=65536', /port: expected integer 1–65535/],
    ["host='a", /unterminated quoted value/],
    ['host=a colour=red', /unknown connection parameter "colour"/],
    ['=a', /expected key=value/],
    ['postgresql://u@h:notaport/db', /malformed postgresql:\/\/ URI|port: expected integer/],
    ['host=a port=12x', /port: expected integer 1–65535, got "12x"/],
  ];
  it.each(bad)('rejects %j', (text, expected) => {
    expect(() => parseDsn(text)).toThrow(DsnError);
    expect(() => parseDsn(text)).toThrow(expected);
  });
  it('conninfo towards a new upstream keeps credentials and TLS settings, changes only where', () => {
    const existing =
      "user=replicator passfile='/s/pgpass' host=10.0.0.1 port=5432 sslmode=verify-full hostaddr=10.0.0.1";
    expect(parseConninfo(conninfoTowards(existing, { host: '10.0.0.2', port: 5433 }))).toEqual({
      user: 'replicator',
      passfile: '/s/pgpass',
      host: '10.0.0.2',
      port: '5433',
      sslmode: 'verify-full',
    });
    expect(slotNameFor('DB-1.east')).toBe('db_1_east');
  });
});

describe('pg_controldata', () => {
  it('reads the state and the latest checkpoint', () => {
    const text =
      "Database system identifier:           7441\nDatabase cluster state:               shut down\nLatest checkpoint location:           0/40000D8\nLatest checkpoint's TimeLineID:       3\n";
    expect(parseControlData(text)).toEqual({
      state: 'shut down',
      checkpointLsn: 0x40000d8n,
      timeline: 3,
      systemIdentifier: '7441',
    });
  });
});

describe('PgBouncer config rewrite', () => {
  const ini = `;; comment stays\n[databases]\nappdb = host=10.0.0.1 port=5432 dbname=appdb pool_size=40\n"other db" = host=10.0.0.9 port=5432\n* = host=fallback\n\n[pgbouncer]\nlisten_port = 6432\n`;
  it('changes only host and port of the named entries, every other byte kept', () => {
    const out = repointText(ini, ['appdb'], '10.0.0.2', 5433);
    expect(out).toBe(ini.replace('host=10.0.0.1 port=5432 dbname=appdb', 'host=10.0.0.2 port=5433 dbname=appdb'));
  });
  it('finds quoted names and refuses a database that is not there', () => {
    expect(findDatabaseEntries(ini).map((e) => e.name)).toEqual(['appdb', 'other db', '*']);
    expect(() => repointText(ini, ['missing'], 'h', 1)).toThrow(/database "missing" has no entry/);
  });
});

describe('secrets', () => {
  it('masks registered secrets and anything shaped like a password', () => {
    registerSecret('s3cr3t-value');
    expect(redact('error: password authentication failed, s3cr3t-value')).not.toContain('s3cr3t-value');
    expect(redact("host=a password='x y' user=b")).toBe('host=a password=*** user=b');
    expect(redact('postgresql://u:pw@h/db')).toBe('postgresql://u:***@h/db');
  });
});

describe('durations', () => {
  it.each([
    ['5s', 5000],
    ['250ms', 250],
    ['2m', 120_000],
    [1500, 1500],
    ['1.5s', 1500],
  ] as const)('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });
  it('rejects nonsense', () => {
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
  });
});

describe('postmaster.opts', () => {
  it('keeps the options a server was started with, past its binary and data directory', async () => {
    const { optionsFromPostmasterOpts } = await import('../../src/postgres/server-control.js');
    expect(
      optionsFromPostmasterOpts(
        '/usr/lib/postgresql/15/bin/postgres "-D" "/var/lib/postgresql/15/main" "-c" "config_file=/etc/postgresql/15/main/postgresql.conf"\n',
      ),
    ).toBe('"-c" "config_file=/etc/postgresql/15/main/postgresql.conf"');
    expect(optionsFromPostmasterOpts('/usr/lib/postgresql/15/bin/postgres "-D" "/tmp/sb/pg1"\n')).toBe('');
    expect(() => optionsFromPostmasterOpts('/bin/postgres "-D" "/d" "-c" "config_file=/etc/$(reboot)"')).toThrow(
      /cannot be passed on safely/,
    );
  });
});

describe('PgBouncer config with %include and a * fallback', () => {
  it('finds each entry in the file that holds it and rewrites only that file', async () => {
    const { readConfig, repointEntries } = await import('../../src/routers/pgbouncer/config-file.js');
    const dir = mkdtempSync(join(tmpdir(), 'pgb-'));
    const main = `[databases]\n%include databases.ini\n* = host=10.0.0.1 port=5432\n\n[pgbouncer]\n%include ${join(dir, 'tuning.ini')}\nlisten_port = 6432\n`;
    writeFileSync(join(dir, 'pgbouncer.ini'), main);
    writeFileSync(
      join(dir, 'databases.ini'),
      'appdb = host=10.0.0.1 port=5432 dbname=appdb\nreports = host=10.0.0.7 port=5432\n',
    );
    writeFileSync(join(dir, 'tuning.ini'), 'pool_mode = transaction\nnotadb = host=10.0.0.1\n');
    const config = await readConfig(join(dir, 'pgbouncer.ini'));
    expect(config.entries.map((e) => [e.name, e.file.slice(dir.length + 1)])).toEqual([
      ['appdb', 'databases.ini'],
      ['reports', 'databases.ini'],
      ['*', 'pgbouncer.ini'],
    ]);
    expect(config.missing).toEqual([]);
    const chosen = config.entries.filter((e) => e.params.host === '10.0.0.1');
    expect((await repointEntries(config, chosen, '10.0.0.2', 5433)).map((f) => f.slice(dir.length + 1))).toEqual([
      'pgbouncer.ini',
      'databases.ini',
    ]);
    expect(readFileSync(join(dir, 'databases.ini'), 'utf8')).toBe(
      'appdb = host=10.0.0.2 port=5433 dbname=appdb\nreports = host=10.0.0.7 port=5432\n',
    );
    expect(readFileSync(join(dir, 'pgbouncer.ini'), 'utf8')).toBe(
      main.replace('* = host=10.0.0.1 port=5432', '* = host=10.0.0.2 port=5433'),
    );
    expect(readFileSync(join(dir, 'tuning.ini'), 'utf8')).toBe('pool_mode = transaction\nnotadb = host=10.0.0.1\n');
  });

  it('reports an include it cannot find', async () => {
    const { readConfig } = await import('../../src/routers/pgbouncer/config-file.js');
    const dir = mkdtempSync(join(tmpdir(), 'pgb-'));
    writeFileSync(join(dir, 'pgbouncer.ini'), '[databases]\n%include nowhere.ini\n');
    expect((await readConfig(join(dir, 'pgbouncer.ini'))).missing).toEqual([join(dir, 'nowhere.ini')]);
  });
});

describe('synchronous_standby_names across a switchover', () => {
  it('the new primary’s standby name becomes the old primary’s; the form and the others are kept', async () => {
    const { syncRequirement, translateSyncNames } = await import('../../src/decide/sync.js');
    expect(translateSyncNames('ANY 1 (pg2, pg3)', 'pg2', 'pg1')).toBe('ANY 1 (pg1, pg3)');
    expect(translateSyncNames('FIRST 2 ("Pg2", pg3)', 'Pg2', 'db-1')).toBe('FIRST 2 ("db-1", pg3)');
    expect(translateSyncNames('pg2', 'PG2', 'pg1')).toBe('pg1');
    expect(translateSyncNames('*', 'pg2', 'pg1')).toBe('*');
    expect(syncRequirement('ANY 2 (a, "b c", d)')).toEqual({ count: 2, names: ['a', 'b c', 'd'] });
    expect(syncRequirement('a, b')).toEqual({ count: 1, names: ['a', 'b'] });
    expect(syncRequirement('FIRST 1 (*)')).toEqual({ count: 1, names: '*' });
  });
});

describe('where journals go', () => {
  it('the flag, else $PG_HANDOVER_JOURNAL_DIR, else $PG_HANDOVER_STATE_DIR/runs, else beside the inventory: never the working directory', async () => {
    const { defaultJournalDir } = await import('../../src/runner/journal.js');
    expect(defaultJournalDir('inv/cluster.yaml', { PG_HANDOVER_JOURNAL_DIR: '/j' })).toBe('/j');
    expect(defaultJournalDir('inv/cluster.yaml', { PG_HANDOVER_STATE_DIR: '/var/lib/pg-handover' })).toBe(
      '/var/lib/pg-handover/runs',
    );
    expect(defaultJournalDir('/etc/pgh/cluster.yaml', {})).toBe('/etc/pgh/.pg-handover/runs');
  });
});
