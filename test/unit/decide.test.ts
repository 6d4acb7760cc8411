import { describe, expect, it } from 'vitest';
import { failures } from '../../src/decide/checks.js';
import { DEFAULT_LIMITS } from '../../src/decide/limits.js';
import { chooseTarget } from '../../src/decide/target.js';
import { buildPlaybook, decide, planOf } from './support/switchover.js';
import { parseYamlText } from '../../src/util/yaml-source.js';
import { readFileSync } from 'node:fs';
import {
  cluster,
  clusterWithLaggingReplica,
  healthyCluster,
  pooler,
  primary,
  replica,
} from './support/cluster-fixtures.js';

const playbook = buildPlaybook(
  parseYamlText(readFileSync('playbooks/switchover.yaml', 'utf8'), 'switchover.yaml', 'playbook'),
);
const failing = (state = healthyCluster(), target?: string) =>
  failures(decide(state, playbook, target).checks).map((c) => c.id);

describe('target choice', () => {
  it('picks the streaming replica with the least lag', () => {
    expect(chooseTarget(healthyCluster(), primary())?.name).toBe('pg2');
  });
  it('skips a replica whose replay is paused, and one streaming from elsewhere', () => {
    const state = cluster([primary(), replica('pg2', 5001, 0x3000000n, { replayPaused: true }), replica('pg3', 5009)]);
    expect(chooseTarget(state, primary())).toBeUndefined();
  });
  it('breaks ties by name', () => {
    const state = cluster([primary(), replica('pg3'), replica('pg2')]);
    expect(chooseTarget(state, primary())?.name).toBe('pg2');
  });
  it('treats replicas within 16 MiB of the most advanced as equal, so the choice does not flip under load', () => {
    const ahead = (bytes: bigint) =>
      cluster([
        primary('pg1', { flushLsn: 0x9000000n }),
        replica('pg2', 5001, 0x5000000n),
        replica('pg3', 5001, 0x5000000n + bytes),
      ]);
    expect(chooseTarget(ahead(8192n), primary())?.name).toBe('pg2');
    expect(chooseTarget(ahead(16n * 1024n * 1024n), primary())?.name).toBe('pg2');
    expect(chooseTarget(ahead(32n * 1024n * 1024n), primary())?.name).toBe('pg3');
  });
});

describe('preflight decisions', () => {
  it('a healthy cluster passes every check and plans a clean stop', () => {
    const decision = decide(healthyCluster(), playbook);
    expect(failures(decision.checks)).toEqual([]);
    expect(decision.context?.target.name).toBe('pg2');
    expect(decision.context?.fenceMethod).toBe('clean-stop');
  });

  it('refuses lag over the limit, naming bytes', () => {
    expect(failing(clusterWithLaggingReplica(BigInt(DEFAULT_LIMITS.maxLagBytes) + 1n))).toEqual(['lag-bytes']);
    expect(failing(clusterWithLaggingReplica(1024n))).toEqual([]);
  });

  it('refuses a target that is the primary', () => {
    expect(failing(healthyCluster(), 'pg1')).toContain('target-is-replica');
  });

  it('refuses a target from another cluster', () => {
    const state = cluster([primary(), replica('pg2', 5001, 0x3000000n, { systemIdentifier: '9999' }), replica('pg3')]);
    expect(failing(state, 'pg2')).toEqual(['same-system-identifier']);
  });

  it('refuses two primaries and no primary', () => {
    expect(failing(cluster([primary(), primary('pg2'), replica('pg3')]))).toContain('one-primary');
    expect(failing(cluster([replica('pg1', 5002), replica('pg2', 5001), replica('pg3')]))).toContain('one-primary');
  });

  it('does not advise a failover when the primary may be among the nodes that did not answer', () => {
    const silent = cluster([
      { name: 'pg1', reachable: false, error: "TLS: the server's certificate is not accepted" },
      replica('pg2'),
      replica('pg3'),
    ]);
    expect(decide(silent, playbook).checks.find((c) => c.id === 'one-primary')!.message).toMatch(
      /^no reachable node is a primary, and pg1 did not answer \(see nodes-reachable\): fix that first/,
    );
  });

  it('refuses blockers: long and prepared transactions, logical slots, paused replay', () => {
    const busy = primary('pg1', {
      transactions: [{ pid: 42, user: 'app', state: 'idle in transaction', ageMs: 60_000 }],
      preparedXacts: 1,
      slots: [{ name: 'cdc', type: 'logical', active: true, activePid: 99, walStatus: 'reserved' }],
    });
    const state = cluster([busy, replica('pg2', 5001, 0x3000000n, { replayPaused: true }), replica('pg3')]);
    expect(failing(state, 'pg2').sort()).toEqual([
      'no-logical-slots',
      'no-long-transactions',
      'no-prepared-transactions',
      'replay-not-paused',
    ]);
  });

  it('refuses pooler problems: unreachable, paused, pointing elsewhere', () => {
    expect(
      failing(
        cluster(
          [primary(), replica('pg2'), replica('pg3')],
          [{ name: 'pgb', kind: 'pgbouncer', reachable: false, error: 'ECONNREFUSED' }],
        ),
      ),
    ).toEqual(['pooler-reachable']);
    expect(failing(cluster([primary(), replica('pg2'), replica('pg3')], [pooler(5001, { paused: true })]))).toEqual([
      'pooler-not-paused',
    ]);
    expect(failing(cluster([primary(), replica('pg2'), replica('pg3')], [pooler(5003)]))).toEqual([
      'pooler-points-at-primary',
    ]);
  });

  it('refuses when another run holds the lock, saying who', () => {
    const state = {
      ...healthyCluster(),
      lockHolder: { applicationName: 'pg-handover run X pid 7', pid: 99, since: 't' },
    };
    const check = decide(state, playbook).checks.find((c) => c.id === 'no-other-run')!;
    expect(check.verdict).toBe('fail');
    expect(check.message).toContain('pg-handover run X pid 7');
  });

  it('warns, not refuses, for session pooling and a lagging sibling', () => {
    const state = cluster([primary(), replica('pg2'), replica('pg3', 5009)], [pooler(5001, { pool_mode: 'session' })]);
    const decision = decide(state, playbook, 'pg2');
    expect(failures(decision.checks)).toEqual([]);
    expect(
      decision.checks
        .filter((c) => c.verdict === 'warn')
        .map((c) => c.id)
        .sort(),
    ).toEqual(['other-replicas', 'pooler-pool-mode']);
  });

  it('falls back to a read-only fence without host access', () => {
    const state = cluster([primary(), replica('pg2'), replica('pg3')], [pooler()], false);
    expect(decide(state, playbook).context?.fenceMethod).toBe('read-only');
  });

  it('refuses a playbook that asks for a clean stop when the primary has no host access', () => {
    const state = cluster([primary(), replica('pg2'), replica('pg3')], [pooler()], false);
    const cleanStop = buildPlaybook(
      parseYamlText(
        readFileSync('playbooks/switchover.yaml', 'utf8').replace('method: auto', 'method: clean-stop'),
        'p.yaml',
        'playbook',
      ),
    );
    const decision = decide(state, cleanStop);
    expect(failures(decision.checks).map((c) => c.id)).toContain('fence-method');
  });

  it('a delayed, a paused and a non-streaming replica are repointed but not waited for', () => {
    const state = cluster([
      primary(),
      replica('pg2'),
      replica('pg3', 5001, 0x3000000n, { settings: { ...replica('pg3').settings, recovery_min_apply_delay: '60000' } }),
    ]);
    const context = decide(state, playbook, 'pg2').context!;
    expect(context.waitFor).toEqual([]);
    expect(context.toCheck).toEqual([
      { name: 'pg3', reason: 'recovery_min_apply_delay = 60.00 s: it reaches the new timeline only after that delay' },
    ]);
    const paused = cluster([primary(), replica('pg2'), replica('pg3', 5001, 0x3000000n, { replayPaused: true })]);
    expect(decide(paused, playbook, 'pg2').context!.toCheck.map((c) => c.reason)).toEqual(['its WAL replay is paused']);
    const elsewhere = cluster([primary(), replica('pg2'), replica('pg3', 5009)]);
    expect(decide(elsewhere, playbook, 'pg2').context!.toCheck.map((c) => c.reason)).toEqual([
      'it streams from 127.0.0.1:5009, not from pg1',
    ]);
    expect(decide(healthyCluster(), playbook, 'pg2').context!.waitFor).toEqual(['pg3']);
  });

  it('a user that is not a superuser passes with the least-privilege grants and is refused naming each missing one', () => {
    const lacking = (missing: string[]) => ({ isSuperuser: false, missingPrivileges: missing });
    expect(
      failing(
        cluster([primary('pg1', lacking([])), replica('pg2', 5001, 0x3000000n, lacking([])), replica('pg3')]),
        'pg2',
      ),
    ).toEqual([]);
    const state = cluster([primary('pg1', lacking(['GRANT pg_checkpoint'])), replica('pg2'), replica('pg3')]);
    expect(decide(state, playbook, 'pg2').checks.find((c) => c.id === 'privileges')).toMatchObject({
      verdict: 'fail',
      message: 'pg1 lacks GRANT pg_checkpoint',
    });
  });

  it('standby settings lower than the primary are refused', () => {
    const low = replica('pg2');
    const state = cluster([
      primary(),
      { ...low, settings: { ...low.settings, max_connections: '10' } },
      replica('pg3'),
    ]);
    expect(failing(state, 'pg2')).toEqual(['standby-settings']);
  });
});

describe('plan', () => {
  it('orders the steps, marks the point of no return, and says what each will run', () => {
    const plan = planOf(playbook, decide(healthyCluster(), playbook).context!);
    expect(plan.steps.map((s) => s.step.kind)).toEqual([
      'preflight',
      'checkpoint',
      'check-lag',
      'fence-writes',
      'wait-catchup',
      'promote',
      'repoint-pooler',
      'resume',
      'follow',
      'demote-old-primary',
      'sync-standbys',
      'verify',
    ]);
    expect(plan.steps.filter((s) => s.phase === 'promotion').map((s) => s.id)).toEqual(['6-promote']);
    expect(plan.steps.filter((s) => s.undoable).map((s) => s.step.kind)).toEqual(['fence-writes']);
    const actions = plan.steps.flatMap((s) => s.actions).join('\n');
    expect(actions).toContain('[pgb] admin: PAUSE appdb');
    expect(actions).toContain('[pg2] SQL: SELECT pg_promote(false)');
    expect(actions).toContain(
      "[pg3] SQL: ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=5002 user=replicator'",
    );
    expect(actions).toContain('/data/pg1/standby.signal');
  });
});
