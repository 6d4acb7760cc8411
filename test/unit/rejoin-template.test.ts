/**
 * Two nodes after a failover: the old primary is down and the only other node is the new primary.
 * Its own primary_conninfo (kept from when it was a replica) is what the rejoin copies, so the old
 * primary streams with the replication user and passfile, not libpq's defaults.
 */
import { describe, expect, it } from 'vitest';
import { decideRejoin } from '../../src/procedures/rejoin/decide.js';
import { rejoinUpstream } from '../../src/steps/upstream.js';
import { cluster, primary } from './support/cluster-fixtures.js';

const KEPT = 'user=replicator passfile=/var/lib/postgresql/.pgpass host=127.0.0.1 port=5001 application_name=pg2';

function twoNodesAfterFailover(conninfo: string) {
  const state = cluster([
    { name: 'pg1', reachable: false, error: 'connection refused' } as never,
    primary('pg2', { timeline: 2, settings: { ...primary('pg2').settings, primary_conninfo: conninfo } }),
  ]);
  return { ...state, inventory: { ...state.inventory, nodes: state.inventory.nodes.slice(0, 2) } };
}

describe('rejoin of the old primary in a two-node cluster', () => {
  it("copies the new primary's kept primary_conninfo, pointed at it", () => {
    const decision = decideRejoin(twoNodesAfterFailover(KEPT), { target: 'pg1' } as never);
    const { conninfo } = rejoinUpstream(decision.context!);
    expect(conninfo).toMatch(/user=replicator/);
    expect(conninfo).toMatch(/passfile=\/var\/lib\/postgresql\/\.pgpass/);
    expect(conninfo).toMatch(/port=5002/);
    expect(conninfo).toMatch(/application_name=pg1/);
    expect(decision.checks.find((c) => c.id === 'replication-conninfo')).toBeUndefined();
  });

  it("warns before acting when no node shows one (libpq's defaults would be used)", () => {
    const decision = decideRejoin(twoNodesAfterFailover(''), { target: 'pg1' } as never);
    expect(decision.checks.find((c) => c.id === 'replication-conninfo')).toMatchObject({ verdict: 'warn' });
  });
});
