/** Each node known by identity: one server listed twice, a node of another cluster, a split brain said as one. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { identityChecks } from '../../src/decide/identity.js';
import type { ClusterState } from '../../src/model/cluster-state.js';
import { describeEndState } from '../../src/runner/end-state.js';
import { buildPlaybook } from '../../src/playbook/load.js';
import { failover } from '../../src/procedures/failover/index.js';
import { readiness } from '../../src/procedures/readiness.js';
import { switchover } from '../../src/procedures/switchover/index.js';
import { routerChecks } from '../../src/routers/registry.js';
import { parseYamlText } from '../../src/util/yaml-source.js';
import { cluster, primary, replica } from './support/cluster-fixtures.js';

const fails = (state: ClusterState) =>
  identityChecks(state)
    .filter((c) => c.verdict === 'fail')
    .map((c) => `${c.id}: ${c.message}`);
const load = (file: string, rules: typeof failover.rules) =>
  buildPlaybook(parseYamlText(readFileSync(file, 'utf8'), file, 'playbook'), rules);
const playbooks = {
  switchover: load('playbooks/switchover.yaml', switchover.rules),
  failover: load('playbooks/failover.yaml', failover.rules),
};
const started = (name: string, at: string, over = {}) => ({
  startedAt: at,
  settings: { ...replica(name).settings, data_directory: `/data/${name}` },
  ...over,
});

describe('each node known by identity', () => {
  it('a healthy cluster passes', () => {
    const state = cluster([
      primary('pg1', started('pg1', 't1')),
      replica('pg2', 5001, 0x3000000n, started('pg2', 't2')),
      replica('pg3', 5001, 0x3000000n, started('pg3', 't3')),
    ]);
    expect(fails(state)).toEqual([]);
  });

  it('a node of another cluster is "not part of this cluster", never a second primary', () => {
    const state = cluster([primary('pg1'), replica('pg2'), primary('pg3', { systemIdentifier: '9999' })]);
    expect(fails(state)).toEqual([
      expect.stringMatching(
        /^same-cluster: pg3 is not part of this cluster: its system identifier is 9999, while pg1, pg2 have 7000/,
      ),
    ]);
    const check = readiness(state, playbooks, routerChecks);
    expect(check.verdict).toBe('not-ready');
    expect(check.problems.join('\n')).toMatch(/pg3 is not part of this cluster/);
  });

  it('on a tie, the cluster is the one the poolers send clients to', () => {
    const state = cluster([primary('pg1'), primary('pg2', { systemIdentifier: '9999' })]);
    expect(fails(state)).toEqual([expect.stringMatching(/pg2 is not part of this cluster/)]);
  });

  it('one server listed twice, by address or by fingerprint, names both entries', () => {
    const base = cluster([
      primary('pg1', started('pg1', 't1')),
      replica('pg2', 5001, 0x3000000n, started('pg1', 't1')),
      replica('pg3'),
    ]);
    // The same system identifier, data directory and start time: one postmaster (e.g. behind a forwarded port).
    expect(fails(base)).toEqual([
      expect.stringMatching(
        /^same-server: the inventory lists one server twice: pg1 and pg2 are one server \(system identifier 7000, data directory \/data\/pg1/,
      ),
    ]);
    const twice = cluster([primary('pg1'), replica('pg2'), replica('pg3')]);
    const nodes = twice.inventory.nodes.map((n) =>
      n.name === 'pg3' ? { ...n, conn: { ...n.conn, host: 'localhost', port: 5001 } } : n,
    );
    const spelled: ClusterState = {
      ...twice,
      inventory: { ...twice.inventory, nodes },
      addresses: { localhost: ['127.0.0.1'], '127.0.0.1': ['127.0.0.1'] },
    };
    expect(fails(spelled)).toEqual([
      expect.stringMatching(/pg1 \(127.0.0.1:5001\) and pg3 \(localhost:5001\) are one address/),
    ]);
  });

  it('check says split brain when two nodes of this cluster accept writes', () => {
    const check = readiness(cluster([primary('pg1'), primary('pg2'), replica('pg3')]), playbooks, routerChecks);
    expect(check.verdict).toBe('split-brain');
    expect(check.primary).toBe('pg1 and pg2');
  });
});

describe('the verified end state says only what was proven', () => {
  const end = {
    writable: ['pg2'],
    silent: ['pg1'],
    poolers: [{ name: 'pgb', reachable: true, pointsAt: 'pg2', paused: false }],
  };
  it('a node that only timed out is not down, and no one is "the only writable primary" while it may be', () => {
    expect(describeEndState({ ...end, silence: { pg1: 'timeout' } })).toBe(
      'pg2 is the only writable primary that answers; pgb -> pg2; pg1 does not answer the tool (timeout): not proven down',
    );
  });
  it('refused by its host, or fenced by its fence_command: proven', () => {
    expect(describeEndState({ ...end, silence: { pg1: 'refused' } })).toBe(
      'pg2 is the only writable primary; pgb -> pg2; pg1 down (connection refused)',
    );
    expect(describeEndState({ ...end, silence: { pg1: 'timeout' } }, ['pg1'])).toBe(
      'pg2 is the only writable primary; pgb -> pg2; pg1 fenced by its fence_command',
    );
  });
});
