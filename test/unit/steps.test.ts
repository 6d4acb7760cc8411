/**
 * Step kinds as data: the playbook schema is assembled from them, each holds its own defaults and
 * pause budget, the fence modes are one table, and the dry-run text is made from the same actions
 * that run.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stepSchema } from '../../src/playbook/schema.js';
import { FENCE_MODES } from '../../src/steps/fence-modes.js';
import { definitionOf, kindOf, pauseBudgetOf, STEP_DEFINITIONS } from '../../src/steps/registry.js';
import type { StepDefinition } from '../../src/steps/types.js';
import { parseYamlText } from '../../src/util/yaml-source.js';
import { healthyCluster } from './support/cluster-fixtures.js';
import { buildPlaybook, decide, planOf } from './support/switchover.js';

const playbook = buildPlaybook(
  parseYamlText(readFileSync('playbooks/switchover.yaml', 'utf8'), 'switchover.yaml', 'playbook'),
);

describe('step kinds', () => {
  it('the playbook schema knows exactly the registered kinds', () => {
    const kinds = STEP_DEFINITIONS.map((d) => kindOf(d as unknown as StepDefinition));
    const result = stepSchema.safeParse({ kind: 'nope' });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.message).toBe(`unknown step kind; expected one of ${kinds.join(', ')}`);
    for (const kind of kinds.filter((k) => k !== 'sql' && k !== 'exec'))
      expect(stepSchema.safeParse({ kind }).success, kind).toBe(true);
  });

  it('defaults come from the step file', () => {
    expect(stepSchema.parse({ kind: 'fence-writes' })).toEqual({
      kind: 'fence-writes',
      method: 'auto',
      pause_timeout: 5000,
      stop_timeout: 30000,
    });
    expect(stepSchema.parse({ kind: 'promote' })).toEqual({ kind: 'promote', timeout: 30000, poll_interval: 2 });
  });

  it('the pause budget is the sum of each holding step’s own share', () => {
    // fence-writes 5 s + 30 s, wait-catchup 10 s, promote 30 s, repoint-pooler 10 s
    expect(pauseBudgetOf(playbook.steps)).toBe(85_000);
    expect(playbook.steps.filter((s) => definitionOf(s).pauseBudget !== undefined).map((s) => s.kind)).toEqual([
      'fence-writes',
      'wait-catchup',
      'promote',
      'repoint-pooler',
    ]);
  });

  it('fence modes: only the clean stop needs host access; its catch-up must pass the checkpoint, the read-only one reach the flush position', () => {
    expect(
      Object.entries(FENCE_MODES).map(([m, mode]) => [m, mode.needsHostAccess, mode.rejoins, mode.failover === true]),
    ).toEqual([
      ['clean-stop', true, true, false],
      ['role-fence', false, false, false],
      ['read-only', false, false, false],
      ['platform', false, false, false],
      ['fence-command', false, false, true],
      ['pooler-only', false, false, true],
    ]);
    expect(FENCE_MODES['clean-stop'].caughtUp(100n, 100n)).toBe(false);
    expect(FENCE_MODES['read-only'].caughtUp(100n, 100n)).toBe(true);
    // The role fence's final position is pg_current_wal_lsn() after its marker: at or past it.
    expect(FENCE_MODES['role-fence'].caughtUp(100n, 100n)).toBe(true);
    expect(FENCE_MODES['role-fence'].caughtUp(99n, 100n)).toBe(false);
  });

  it('the dry run shows every statement a replica is sent, slot setting included', () => {
    const plan = planOf(playbook, decide(healthyCluster(), playbook, 'pg2').context!);
    const follow = plan.steps.find((s) => s.step.kind === 'follow')!.actions;
    expect(follow).toEqual([
      "[pg2] SQL: SELECT pg_create_physical_replication_slot('pg3', true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'pg3')",
      "[pg3] SQL: ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=5002 user=replicator'",
      "[pg3] SQL: ALTER SYSTEM SET primary_slot_name = 'pg3'",
      '[pg3] SQL: SELECT pg_reload_conf()',
      '[pg3] SQL: SELECT status, sender_host, sender_port, received_tli FROM pg_stat_wal_receiver  (until streaming from pg2)',
    ]);
    const demote = plan.steps.find((s) => s.step.kind === 'demote-old-primary')!.actions;
    expect(demote.slice(0, 2)).toEqual([
      '[pg1] shell: touch /data/pg1/standby.signal',
      expect.stringMatching(/^\[pg1\] shell: pg_ctl -D \/data\/pg1 .* start$/),
    ]);
  });
});
