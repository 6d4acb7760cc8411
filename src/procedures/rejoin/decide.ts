/**
 * How a rejoin decides, from one ClusterState: which node is the primary now (the one the
 * routers send clients to, when the old one came back writable too), and whether the node to
 * rejoin can be acted on (host access, data directory) and rewound if it must be. Pure.
 */
import { fail, pass, warn, type Check } from '../../decide/checks.js';
import { streamsFrom } from '../../decide/target.js';
import { nodeAt, nodeState, primariesOf, type ClusterState } from '../../model/cluster-state.js';
import type { NodeObservation } from '../../model/node.js';
import type { Decision } from '../../playbook/plan.js';
import type { PlanContext } from '../../steps/types.js';
import type { DecideInput } from '../types.js';
import { clusterReplicationTemplate } from '../../decide/followers.js';

export function decideRejoin(state: ClusterState, input: DecideInput): Decision {
  const name = input.target;
  if (!name) return { checks: [fail('node', 'name the node to rejoin: pg-handover rejoin -i INVENTORY NODE')] };
  const primary = currentPrimary(state, name);
  if ('problem' in primary) return { checks: [fail('primary', primary.problem)] };
  const p = primary.node;
  const checks: Check[] = [pass('primary', `${p.name} is the primary${primary.why}`)];
  const spec = state.inventory.nodes.find((n) => n.name === name)!;
  const node = nodeState(state, name);
  if (node?.reachable && node.inRecovery && streamsFrom(state, node, p.name)) {
    return {
      checks: [...checks, pass('rejoin-needed', `${name} already streams from ${p.name}`)],
      done: `${name} already streams from ${p.name}`,
    };
  }
  if (node?.reachable && node.systemIdentifier !== p.systemIdentifier) {
    return {
      checks: [
        ...checks,
        fail(
          'same-cluster',
          `${name} belongs to another cluster (system identifier ${node.systemIdentifier}, ${p.name} has ${p.systemIdentifier}): re-clone it`,
        ),
      ],
    };
  }
  checks.push(
    pass(
      'node',
      node?.reachable
        ? `${name} answers as ${node.inRecovery ? 'a replica not streaming from the primary' : 'a primary (it came back): it is stopped first'}`
        : `${name} does not answer (${node && !node.reachable ? node.error : 'unknown'}): its files are read on its host`,
    ),
  );
  checks.push(
    spec.hostAccess && spec.dataDir
      ? pass(
          'host-access',
          `${name}'s host is reached ${spec.hostAccess.kind === 'local' ? 'locally' : `through ${spec.hostAccess.command.join(' ')}`}; data directory ${spec.dataDir}`,
        )
      : fail(
          'host-access',
          `${name} needs host_access and data_dir in the inventory (or a running server to discover data_dir from): it is stopped, rewound and started on its host`,
        ),
  );
  const hints = p.settings.wal_log_hints === 'on' || p.settings.data_checksums === 'on';
  checks.push(
    hints
      ? pass(
          'rewind-possible',
          `pg_rewind can be used if needed (${p.settings.data_checksums === 'on' ? 'data checksums' : 'wal_log_hints'} on ${p.name})`,
        )
      : warn(
          'rewind-possible',
          `neither data checksums nor wal_log_hints on ${p.name}: if ${name} diverged, pg_rewind is impossible and the report gives the pg_basebackup command that re-clones it`,
        ),
  );
  if (!p.isSuperuser)
    checks.push(
      warn(
        'rewind-login',
        `the inventory's user on ${p.name} is not a superuser: pg_rewind needs one (or EXECUTE on pg_ls_dir, pg_stat_file, pg_read_binary_file) if a rewind is needed`,
      ),
    );
  const replication = clusterReplicationTemplate(state);
  if (!replication.conninfo)
    checks.push(
      warn(
        'replication-conninfo',
        `no node shows a primary_conninfo to copy: ${name} will stream from ${p.name} with libpq's defaults besides host and port (its OS user's name as the user, its ~/.pgpass); if that cannot log in, the rejoin waits and stops with exit 5`,
      ),
    );
  const context: PlanContext = {
    inventory: state.inventory,
    state,
    primary: spec,
    target: state.inventory.nodes.find((n) => n.name === p.name)!,
    siblings: [],
    waitFor: [],
    toCheck: [],
    unreachable: [],
    primaryObs: node?.reachable ? node : undefined,
    targetObs: p,
    replication,
    fenceMethod: 'clean-stop',
  };
  return { checks, context };
}

/** The one writable primary other than `node`; if `node` came back writable too, the one the routers send clients to. */
function currentPrimary(
  state: ClusterState,
  node: string,
): { node: NodeObservation; why: string } | { problem: string } {
  const writable = primariesOf(state);
  const routed = new Set(
    state.poolers.flatMap((r) => (r.reachable ? r.routes.map((route) => nodeAt(state, route.host, route.port)) : [])),
  );
  const others = writable.filter((n) => n.name !== node);
  if (others.length === 1 && (writable.length === 1 || routed.has(others[0]!.name))) {
    return {
      node: others[0]!,
      why:
        writable.length > 1 ? ` (the poolers send clients to it; ${node} accepts writes too and is stopped first)` : '',
    };
  }
  if (others.length === 0) {
    return {
      problem: writable.length
        ? `${node} is the only writable primary: nothing to rejoin it to`
        : 'no writable primary answers: promote one first (failover)',
    };
  }
  return {
    problem: `${others.map((n) => n.name).join(' and ')} all accept writes: split brain; fence all but one by hand first`,
  };
}
