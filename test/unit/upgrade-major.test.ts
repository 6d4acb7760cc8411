/** upgrade-major's pure checks: replica identity, schema diff, large objects, readiness, slots. */
import { describe, expect, it } from 'vitest';
import type { SourceDatabase, TargetDatabase, UpgradeState } from '../../src/model/logical.js';
import { hasReplicaIdentity, schemaDiff, upgradeChecks } from '../../src/procedures/upgrade-major/decide.js';

const schema = {
  tables: ['public.orders'],
  columns: ['public.orders.id integer not null'],
  indexes: ['CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)'],
  constraints: ['public.orders orders_pkey PRIMARY KEY (id)'],
};
const source = (over: Partial<SourceDatabase> = {}): SourceDatabase => ({
  database: 'appdb',
  tables: [{ name: 'public.orders', identity: 'd', hasPrimaryKey: true, hasIdentityIndex: false }],
  schema,
  sequences: [],
  largeObjects: 0,
  publication: true,
  slots: [{ name: 'pg_handover_upgrade_appdb', active: true, retainedBytes: 0, walStatus: 'reserved' }],
  ...over,
});
const target = (over: Partial<TargetDatabase> = {}): TargetDatabase => ({
  database: 'appdb',
  exists: true,
  schema,
  subscription: {
    name: 'pg_handover_upgrade_appdb',
    enabled: true,
    tableStates: { orders: 'r' },
    applyPid: 42,
    applyErrors: 0,
    syncErrors: 0,
    copying: {},
  },
  ...over,
});
const state = (s: SourceDatabase, t: TargetDatabase): UpgradeState => ({
  source: { node: 'pg1', versionNum: 150018, walLevel: 'logical', databases: [s] },
  target: {
    node: 'new1',
    versionNum: 170010,
    settings: { wal_level: 'logical', max_logical_replication_workers: '4' },
    databases: [t],
  },
});
const notPassed = (s: UpgradeState, phase: 'prepare' | 'cutover' = 'cutover', acceptLargeObjects = false) =>
  upgradeChecks(s, { phase, acceptLargeObjects })
    .filter((c) => c.verdict !== 'pass')
    .map((c) => `${c.verdict} ${c.id}: ${c.message}`);

describe('upgrade-major checks', () => {
  it('replica identity: a primary key, FULL, or an identity index; nothing else', () => {
    expect(hasReplicaIdentity({ name: 't', identity: 'd', hasPrimaryKey: true, hasIdentityIndex: false })).toBe(true);
    expect(hasReplicaIdentity({ name: 't', identity: 'f', hasPrimaryKey: false, hasIdentityIndex: false })).toBe(true);
    expect(hasReplicaIdentity({ name: 't', identity: 'd', hasPrimaryKey: false, hasIdentityIndex: false })).toBe(false);
    expect(hasReplicaIdentity({ name: 't', identity: 'n', hasPrimaryKey: true, hasIdentityIndex: false })).toBe(false);
  });

  it('everything replicating: ready for the cutover', () => {
    expect(notPassed(state(source(), target()))).toEqual([]);
  });

  it('refuses tables without an identity, naming them', () => {
    const s = source({
      tables: [
        ...source().tables,
        { name: 'public.audit', identity: 'd', hasPrimaryKey: false, hasIdentityIndex: false },
      ],
    });
    expect(notPassed(state(s, target()))).toEqual([
      expect.stringMatching(/^fail replica-identity: appdb: 1 table\(s\) .*: public\.audit;/),
    ]);
  });

  it('prints the schema diff', () => {
    const t = target({ schema: { ...schema, columns: ['public.orders.id bigint not null'] } });
    expect(schemaDiff(schema, t.schema!)).toEqual([
      'columns: source only: public.orders.id integer not null',
      'columns: target only: public.orders.id bigint not null',
    ]);
    expect(notPassed(state(source(), t))).toEqual([
      expect.stringMatching(/^fail schema: appdb: the schemas differ \(2\): columns: source only/),
    ]);
  });

  it('large objects refuse prepare unless accepted; at the cutover, a reminder', () => {
    expect(notPassed(state(source({ largeObjects: 3 }), target()), 'prepare')).toEqual([
      expect.stringMatching(/^fail large-objects: .*3 large object/),
    ]);
    expect(notPassed(state(source({ largeObjects: 3 }), target()), 'prepare', true)).toEqual([
      expect.stringMatching(/^warn large-objects/),
    ]);
    expect(notPassed(state(source({ largeObjects: 3 }), target()))).toEqual([
      expect.stringMatching(/^warn large-objects/),
    ]);
  });

  it('the way back: the target is the older major', () => {
    const back: UpgradeState = {
      ...state(source(), target()),
      source: { ...state(source(), target()).source, versionNum: 170010 },
      target: { ...state(source(), target()).target, versionNum: 150018 },
    };
    expect(
      upgradeChecks(back, { phase: 'cutover', direction: 'back' }).find((c) => c.id === 'upgrade-versions')?.verdict,
    ).toBe('pass');
    expect(upgradeChecks(back, { phase: 'cutover' }).find((c) => c.id === 'upgrade-versions')?.verdict).toBe('fail');
  });

  it('the cutover needs every table ready and the apply worker; prepare does not', () => {
    const copying = target({ subscription: { ...target().subscription!, tableStates: { orders: 'd' } } });
    expect(notPassed(state(source(), copying))).toEqual([
      expect.stringMatching(/^fail replicating: appdb: 1 table\(s\) not ready yet: orders \(d\)/),
    ]);
    expect(notPassed(state(source(), copying), 'prepare')).toEqual([]);
  });

  it('warns while a slot holds WAL that threatens the disk; refuses a lost one', () => {
    const slot = {
      name: 'pg_handover_upgrade_appdb',
      active: true,
      retainedBytes: 2 * 1024 ** 3,
      walStatus: 'extended',
    };
    expect(notPassed(state(source({ slots: [] }), target()))).toEqual([
      expect.stringMatching(/^fail source-slot: .*no slot/),
    ]);
    expect(notPassed(state(source({ slots: [slot] }), target()))).toEqual([
      expect.stringMatching(/^warn source-slot: .*keeps 2 GiB of WAL/),
    ]);
    expect(notPassed(state(source({ slots: [{ ...slot, walStatus: 'lost' }] }), target()))).toEqual([
      expect.stringMatching(/^fail source-slot: .*is lost/),
    ]);
  });
});
