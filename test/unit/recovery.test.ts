import { describe, expect, it } from 'vitest';
import { detectRecovery } from '../../src/procedures/switchover/half-done.js';
import { parseControlFile } from '../../src/postgres/control-file.js';
import type { UnfinishedRun } from '../../src/model/unfinished-run.js';
import { cluster, pooler, primary, replica } from './support/cluster-fixtures.js';

const run = (over: Partial<UnfinishedRun> = {}): UnfinishedRun => ({
  runId: 'R1',
  file: '/j/R1.jsonl',
  procedure: 'switchover',
  primary: 'pg1',
  target: 'pg2',
  fenceMethod: 'clean-stop',
  promoteRequested: false,
  lastEvent: 'step-start 5-wait-catchup',
  alive: false,
  paths: {},
  ...over,
});
const down = (name: string) => ({ name, reachable: false as const, error: 'ECONNREFUSED' });
const readOnly = (name: string) =>
  primary(name, { settings: { ...primary(name).settings, default_transaction_read_only: 'on' } });

describe('recognising a half-done switchover', () => {
  it('a healthy cluster needs nothing', () => {
    expect(detectRecovery(cluster([primary(), replica('pg2'), replica('pg3')]))).toBeUndefined();
    expect(
      detectRecovery(cluster([primary(), replica('pg2'), replica('pg3')]), run({ primary: 'pg9' })),
    ).toBeUndefined();
  });

  it('promoted but the pooler still on the stopped old primary: finish', () => {
    const state = cluster([down('pg1'), primary('pg2'), replica('pg3')], [pooler(5001, { paused: true })]);
    expect(detectRecovery(state)).toMatchObject({ kind: 'finish', oldPrimary: 'pg1', newPrimary: 'pg2' });
  });

  it('promoted and repointed, but follow and demote never ran: finish, from the journal', () => {
    const state = cluster([down('pg1'), primary('pg2'), replica('pg3')], [pooler(5002)]);
    expect(detectRecovery(state, run({ promoteRequested: true }))).toMatchObject({
      kind: 'finish',
      oldPrimary: 'pg1',
      newPrimary: 'pg2',
    });
  });

  it('fenced, never promoted: undo the fence', () => {
    const stopped = cluster([down('pg1'), replica('pg2'), replica('pg3')], [pooler(5001, { paused: true })]);
    expect(detectRecovery(stopped, run())).toMatchObject({ kind: 'undo-fence', oldPrimary: 'pg1' });
    const pausedOnly = cluster([primary(), replica('pg2'), replica('pg3')], [pooler(5001, { paused: true })]);
    expect(detectRecovery(pausedOnly, run())).toMatchObject({ kind: 'undo-fence', oldPrimary: 'pg1' });
  });

  it('no journal and no pooler left paused: a pooler pointing at a replica is not a half-done run (preflight names it)', () => {
    const misrouted = cluster([primary(), replica('pg2'), replica('pg3')], [pooler(5002)]);
    expect(detectRecovery(misrouted)).toBeUndefined();
    expect(detectRecovery(misrouted, run({ primary: 'pg2', target: 'pg1', promoteRequested: true }))).toMatchObject({
      kind: 'finish',
    });
  });

  it('never guesses without evidence', () => {
    const pausedOnly = cluster([primary(), replica('pg2'), replica('pg3')], [pooler(5001, { paused: true })]);
    expect(detectRecovery(pausedOnly)).toMatchObject({ kind: 'stuck' });
    const nobody = cluster([down('pg1'), replica('pg2'), replica('pg3')], [pooler(5001, { paused: true })]);
    expect(detectRecovery(nobody)).toMatchObject({ kind: 'stuck' });
  });

  it('promotion requested but not done: stop and say what to check', () => {
    const state = cluster([down('pg1'), replica('pg2'), replica('pg3')], [pooler(5001, { paused: true })]);
    const recovery = detectRecovery(state, run({ promoteRequested: true }));
    expect(recovery).toMatchObject({ kind: 'stuck' });
    expect(recovery && 'reason' in recovery && recovery.reason).toMatch(
      /promotion of pg2 was requested .* check SELECT pg_is_in_recovery\(\) on pg2/,
    );
  });

  it('two writable primaries: split brain, stop', () => {
    expect(detectRecovery(cluster([primary(), primary('pg2'), replica('pg3')]))).toMatchObject({
      kind: 'stuck',
      reason: expect.stringMatching(/split brain/),
    });
  });

  it('a read-only fenced former primary is not a writer', () => {
    expect(detectRecovery(cluster([readOnly('pg1'), primary('pg2'), replica('pg3')], [pooler(5002)]))).toBeUndefined();
  });
});

describe('pg_control head', () => {
  it('reads state, checkpoint and timeline of a known layout, and refuses others', () => {
    const buffer = Buffer.alloc(56);
    buffer.writeBigUInt64LE(7711887847336848012n, 0);
    buffer.writeUInt32LE(1300, 8);
    buffer.writeUInt32LE(1, 16);
    buffer.writeBigUInt64LE(0x40007d0n, 32);
    buffer.writeUInt32LE(5, 48);
    expect(parseControlFile(buffer)).toEqual({
      state: 'shut down',
      systemIdentifier: '7711887847336848012',
      checkpointLsn: 0x40007d0n,
      timeline: 5,
    });
    buffer.writeUInt32LE(1800, 8);
    expect(parseControlFile(buffer)).toBeUndefined();
  });
});
