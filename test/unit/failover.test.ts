/** The failover's pure decisions: which node was the primary, who confirms it, the candidate, the loss estimate, the refusals. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ClusterState } from '../../src/model/cluster-state.js';
import type { LastSeen } from '../../src/model/incident.js';
import type { NodeState } from '../../src/model/node.js';
import { buildPlaybook } from '../../src/playbook/load.js';
import { buildPlan } from '../../src/playbook/plan.js';
import { failover } from '../../src/procedures/failover/index.js';
import { readiness } from '../../src/procedures/readiness.js';
import { switchover } from '../../src/procedures/switchover/index.js';
import { routerChecks } from '../../src/routers/registry.js';
import { parseYamlText } from '../../src/util/yaml-source.js';
import { cluster, healthyCluster, primary, replica } from './support/cluster-fixtures.js';

const load = (file: string, rules: typeof failover.rules) =>
  buildPlaybook(parseYamlText(readFileSync(file, 'utf8'), file, 'playbook'), rules);
const playbook = load('playbooks/failover.yaml', failover.rules);
const decide = (
  state: ClusterState,
  { acceptDataLoss = false, ...input }: { target?: string; lastSeen?: LastSeen; acceptDataLoss?: boolean } = {},
) => failover.decide(state, playbook, { routerChecks, ...input, options: { acceptDataLoss } });
const verdicts = (state: ClusterState, input = {}) =>
  Object.fromEntries(decide(state, input).checks.map((c) => [c.id, c.verdict]));

const dead = (name = 'pg1', silence: 'refused' | 'timeout' = 'refused'): NodeState => ({
  name,
  reachable: false,
  error: silence === 'refused' ? 'ECONNREFUSED' : 'timeout expired',
  silence,
});
/** A replica that lost its primary: no WAL receiver, received up to `lsn`. */
const orphan = (name: string, lsn: bigint, over = {}) => replica(name, 5001, lsn, { walReceiver: undefined, ...over });
const seen = (over: Partial<LastSeen> = {}): LastSeen => ({
  at: 'earlier',
  primary: 'pg1',
  timeline: 1,
  flushLsn: '0/3000000',
  syncStandbys: [],
  ...over,
});

describe('failover decisions', () => {
  it('a primary that answers is refused, pointing to switchover', () => {
    const { checks, context } = decide(healthyCluster());
    expect(context).toBeUndefined();
    expect(checks[0]!.message).toMatch(/pg1 answers as a writable primary .*pg-handover switchover/);
  });

  it('the old primary is the silent node the pooler sends clients to; the most advanced replica is chosen', () => {
    const { checks, context } = decide(cluster([dead(), orphan('pg2', 0x3000000n), orphan('pg3', 0x3000100n)]));
    expect(checks.find((c) => c.id === 'old-primary')!.message).toMatch(
      /pg1 was the primary \(the poolers send clients to it\)/,
    );
    expect(context!.target.name).toBe('pg3');
    expect(context!.incident!.silence).toBe('refused');
    expect(context!.incident!.witnesses).toEqual(['pg2', 'pg3']);
    expect(context!.fenceMethod).toBe('pooler-only');
  });

  it('ties: a synchronous standby first, then priority, then the least replay lag, then the name', () => {
    const tie = (over2 = {}, over3 = {}) =>
      cluster([dead(), orphan('pg2', 0x3000000n, over2), orphan('pg3', 0x3000000n, over3)]);
    expect(decide(tie()).context!.target.name).toBe('pg2');
    expect(decide(tie(), { lastSeen: seen({ syncStandbys: ['pg3'] }) }).context!.target.name).toBe('pg3');
    expect(decide(tie({ replayLsn: 0x2000000n })).context!.target.name).toBe('pg3');
    const state = tie();
    const prioritised = {
      ...state,
      inventory: {
        ...state.inventory,
        nodes: state.inventory.nodes.map((n) => (n.name === 'pg3' ? { ...n, priority: 5 } : n)),
      },
    };
    expect(decide(prioritised).context!.target.name).toBe('pg3');
  });

  it('a paused, delayed or priority-0 replica is not a candidate; a paused one named is, with its replay resumed first', () => {
    const state = cluster([dead(), orphan('pg2', 0x3000100n, { replayPaused: true }), orphan('pg3', 0x3000000n)]);
    expect(decide(state, { acceptDataLoss: true }).context!.target.name).toBe('pg3');
    const named = decide(state, { target: 'pg2' });
    expect(named.checks.find((c) => c.id === 'target')!.message).toMatch(/its paused replay is resumed first/);
    const plan = buildPlan('failover', 'failover', playbook.steps, named.context!);
    expect(plan.steps.find((s) => s.step.kind === 'fence-old-primary')!.actions).toContain(
      '[pg2] SQL: SELECT pg_wal_replay_resume()  (its replay was paused; it was named as the target)',
    );
    const delayed = cluster([
      dead(),
      orphan('pg2', 0x3000000n, { settings: { ...orphan('pg2', 0n).settings, recovery_min_apply_delay: '60000' } }),
      orphan('pg3', 0x3000000n),
    ]);
    expect(verdicts(delayed, { target: 'pg2' }).target).toBe('fail');
  });

  it('the loss estimate: bytes known missing, and "unknown" beyond them unless the candidate was a synchronous standby', () => {
    const state = cluster([
      dead(),
      orphan('pg2', 0x3000000n, { replayPaused: true, receiveLsn: 0x3200000n }),
      orphan('pg3', 0x3000000n),
    ]);
    const loss = decide(state, { acceptDataLoss: true }).context!.incident!.loss;
    expect(loss.knownBytes).toBe(0x200000n);
    expect(loss.knownFrom).toMatch(/pg2 received it/);
    expect(loss.beyond.kind).toBe('unknown');
    expect(verdicts(state)['data-loss']).toBe('fail');
    expect(verdicts(state, { acceptDataLoss: true })['data-loss']).toBe('warn');
    const sync = decide(cluster([dead(), orphan('pg2', 0x3000000n)]), { lastSeen: seen({ syncStandbys: ['pg2'] }) })
      .context!.incident!.loss;
    expect(sync).toMatchObject({ knownBytes: 0n, beyond: { kind: 'none' } });
    const covered = decide(cluster([dead(), orphan('pg2', 0x3000100n), orphan('pg3', 0x3000000n)]), {
      lastSeen: seen({ syncStandbys: ['pg3'] }),
    }).context!;
    expect(covered.target.name).toBe('pg2');
    expect(covered.incident!.loss.beyond.why).toMatch(
      /pg2 received at least as much as pg3, a synchronous standby of pg1/,
    );
    const fromPrimary = decide(cluster([dead(), orphan('pg2', 0x3000000n)]), {
      lastSeen: seen({ flushLsn: '0/3000400' }),
    }).context!.incident!.loss;
    expect(fromPrimary.knownBytes).toBe(0x400n);
  });

  it('a synchronous standby that is down or ahead refuses the failover without --accept-data-loss', () => {
    const state = cluster([dead(), orphan('pg2', 0x3000000n), dead('pg3')]);
    expect(verdicts(state, { lastSeen: seen({ syncStandbys: ['pg3'] }) })['sync-standby']).toBe('fail');
    expect(verdicts(state, { lastSeen: seen({ syncStandbys: ['pg3'] }), acceptDataLoss: true })['sync-standby']).toBe(
      'warn',
    );
  });

  it('a replica that still hears from the old primary contradicts the tool: refused', () => {
    const hears = replica('pg2', 5001, 0x3000000n);
    const state: ClusterState = {
      ...cluster([dead('pg1', 'timeout'), hears, orphan('pg3', 0x3000000n)]),
      receiversAfter: {
        sinceProbeMs: 2000,
        byNode: { pg2: { receiver: { ...hears.walReceiver!, lastMsgAgeMs: 10 } } },
      },
    };
    expect(verdicts(state).witnesses).toBe('fail');
    expect(decide(state).checks.find((c) => c.id === 'witnesses')!.message).toMatch(
      /replica pg2: heard from it 10 ms ago\): the tool is the one cut off/,
    );
    const quiet: ClusterState = {
      ...state,
      receiversAfter: {
        sinceProbeMs: 2000,
        byNode: { pg2: { receiver: { ...hears.walReceiver!, lastMsgAgeMs: 2100 } } },
      },
    };
    expect(verdicts(quiet).witnesses).toBe('pass');
    expect(decide(quiet).context!.incident!.silence).toBe('timeout');
  });

  describe('witnesses, not silence', () => {
    const connected = (age: number, timeout = '60000') => {
      const r = replica('pg2', 5001, 0x3000000n, {
        settings: { ...replica('pg2', 5001, 0n).settings, wal_receiver_timeout: timeout },
      });
      return { node: r, after: { pg2: { receiver: { ...r.walReceiver!, lastMsgAgeMs: age } } } };
    };
    /** The tool cut off from a quiet, healthy primary: refused at once, and the replica heard nothing for 5 s. */
    const quietCut = (
      answers: Array<[string, 'reaches' | 'cannot-reach' | 'unknown']>,
      age = 5000,
      timeout?: string,
    ): ClusterState => {
      const { node, after } = connected(age, timeout);
      return {
        ...cluster([dead('pg1', 'refused'), node]),
        receiversAfter: { sinceProbeMs: 40, byNode: after },
        witnesses: {
          suspect: 'pg1',
          answers: answers.map(([witness, verdict]) => ({
            witness,
            kind: witness.startsWith('pooler') ? 'pooler' : 'host',
            verdict,
            detail: verdict,
          })),
        },
      };
    };

    it('a replica still connected and quiet for less than half its wal_receiver_timeout says nothing: refused without other witnesses', () => {
      const state = quietCut([]);
      expect(verdicts(state).witnesses).toBe('fail');
      expect(decide(state).checks.find((c) => c.id === 'witnesses')!.message).toMatch(
        /no witness confirms pg1 is down.*replica pg2: still connected, nothing heard for 5000 ms, within the 31.00 s/,
      );
    });

    it('quiet past half its wal_receiver_timeout plus a second: the primary did not answer its ping, confirmed', () => {
      expect(verdicts(quietCut([], 32_000)).witnesses).toBe('pass');
      expect(verdicts(quietCut([], 6_500, '10000')).witnesses).toBe('pass');
      expect(verdicts(quietCut([], 5_500, '10000')).witnesses).toBe('fail');
      expect(verdicts(quietCut([], 600_000, '0')).witnesses).toBe('fail');
    });

    it('any witness that reaches the primary refuses, whatever the others say', () => {
      const state = quietCut(
        [
          ['pooler pgb', 'reaches'],
          ['host of pg2', 'cannot-reach'],
        ],
        40_000,
      );
      expect(verdicts(state).witnesses).toBe('fail');
      expect(decide(state).checks.find((c) => c.id === 'witnesses')!.message).toMatch(
        /pg1 is seen by its witnesses \(pooler pgb: reaches\): the tool is the one cut off from it/,
      );
    });

    it('a pooler or a host that tried and got no answer confirms; answers about another node are ignored', () => {
      expect(verdicts(quietCut([['pooler pgb', 'cannot-reach']])).witnesses).toBe('pass');
      expect(
        verdicts(
          quietCut([
            ['host of pg2', 'cannot-reach'],
            ['pooler pgb', 'unknown'],
          ]),
        ).witnesses,
      ).toBe('pass');
      const elsewhere = {
        ...quietCut([['pooler pgb', 'reaches']]),
        witnesses: {
          suspect: 'pg9',
          answers: [{ witness: 'pooler pgb', kind: 'pooler' as const, verdict: 'reaches' as const, detail: '' }],
        },
      };
      expect(verdicts(elsewhere).witnesses).toBe('fail');
      expect(decide(elsewhere).checks.find((c) => c.id === 'witnesses')!.message).toMatch(/no witness confirms/);
    });
  });

  it('a login refusal is not a dead primary', () => {
    const state = cluster([
      { name: 'pg1', reachable: false, error: 'password authentication failed', silence: 'auth' },
      orphan('pg2', 0x3000000n),
    ]);
    expect(decide(state).checks[0]!.message).toMatch(/refuses the tool's login/);
  });

  it('with a fence_command the node is fenced by it; without one the plan says it may still take direct connections', () => {
    const state = cluster([dead(), orphan('pg2', 0x3000000n)]);
    expect(decide(state).checks.find((c) => c.id === 'fence-method')!.message).toMatch(
      /may still accept direct \(not pooled\) connections/,
    );
    const fenced = {
      ...state,
      inventory: {
        ...state.inventory,
        nodes: state.inventory.nodes.map((n) =>
          n.name === 'pg1' ? { ...n, fenceCommand: ['virsh', 'destroy', 'db1'] } : n,
        ),
      },
    };
    expect(decide(fenced).context!.fenceMethod).toBe('fence-command');
  });

  it('playbook rules: confirm-failure first, no planned-switchover steps, fence before promote', () => {
    const bad = (yaml: string) => () => buildPlaybook(parseYamlText(yaml, 'x.yaml', 'playbook'), failover.rules);
    expect(
      bad(
        'name: x\nsteps:\n  - kind: preflight\n  - kind: fence-writes\n  - kind: wait-catchup\n  - kind: promote\n  - kind: repoint-pooler\n  - kind: resume\n',
      ),
    ).toThrow(/first step of a failover must be confirm-failure[\s\S]*fence-writes acts on a running old primary/);
    expect(
      bad(
        'name: x\nsteps:\n  - kind: confirm-failure\n  - kind: wait-catchup\n  - kind: promote\n  - kind: fence-old-primary\n  - kind: repoint-pooler\n  - kind: resume\n',
      ),
    ).toThrow(/fence-old-primary must come before promote/);
  });
});

describe('readiness (check)', () => {
  const playbooks = { switchover: load('playbooks/switchover.yaml', switchover.rules), failover: playbook };

  it('ready when both procedures could run and every node answers', () => {
    expect(readiness(healthyCluster(), playbooks, routerChecks).verdict).toBe('ready');
  });

  it('not ready while a router that points at the primary turns new clients away (soak seeds 20261203, 20261204)', () => {
    const router = healthyCluster().poolers[0]!.name;
    const refused = readiness(healthyCluster(), playbooks, routerChecks, undefined, {
      [router]: ['new clients are refused: server login has been failing, try again later (server_login_retry)'],
    });
    expect(refused.verdict).toBe('not-ready');
    expect(refused.routers[0]!.clients).toEqual([
      'new clients are refused: server login has been failing, try again later (server_login_retry)',
    ]);
    const served = readiness(healthyCluster(), playbooks, routerChecks, undefined, { [router]: [] });
    expect(served.verdict).toBe('ready');
    expect(served.routers[0]!.clients).toEqual([]);
  });

  it('not ready when no replica is within the loss limit; unreachable when the primary is down', () => {
    const behind = cluster([
      primary('pg1', { flushLsn: 0x3400000n }),
      replica('pg2', 5001, 0x3000000n),
      replica('pg3', 5001, 0x3000000n),
    ]);
    const r = readiness(behind, playbooks, routerChecks);
    expect(r.verdict).toBe('not-ready');
    expect(r.failover.reasons[0]).toMatch(/lacks 4194304 bytes of what pg1 flushed, over max_data_loss_bytes 1048576/);
    expect(r.nodes.find((n) => n.name === 'pg2')!.lagBytes).toBe(0x400000);
    const down = readiness(
      cluster([dead(), orphan('pg2', 0x3000000n), orphan('pg3', 0x3000000n)]),
      playbooks,
      routerChecks,
    );
    expect(down.verdict).toBe('unreachable');
    expect(down.failover).toMatchObject({ ready: true, target: 'pg2' });
  });
});
