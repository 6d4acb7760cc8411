/**
 * Each node known by identity, before any procedure reads the snapshot: the same server listed
 * twice (one address spelled two ways, or one fingerprint: system identifier, data directory and
 * postmaster start time) is a bad inventory; a node of another cluster (another system
 * identifier) is not part of this one and must not be read as a second primary. Pure.
 */
import { nodeAt, reachableNodes, sameHost, type ClusterState } from '../model/cluster-state.js';
import { peerAddress } from '../inventory/model.js';
import type { NodeObservation } from '../model/node.js';
import { fail, pass, type Check } from './checks.js';

export function identityChecks(state: ClusterState): Check[] {
  const other = new Set(state.inventory.upgradeTarget?.nodes.map((n) => n.name) ?? []);
  const own = state.inventory.nodes.filter((n) => !other.has(n.name));
  const observed = reachableNodes(state).filter((n) => !other.has(n.name));
  return [
    ...sameServer(
      state,
      own.map((n) => n.name),
      observed,
    ),
    ...sameCluster(state, observed),
  ];
}

function sameServer(state: ClusterState, names: readonly string[], observed: readonly NodeObservation[]): Check[] {
  const spec = (name: string) => state.inventory.nodes.find((n) => n.name === name)!;
  const fingerprint = (n: NodeObservation) =>
    n.startedAt ? `${n.systemIdentifier}|${n.settings.data_directory ?? ''}|${n.startedAt}` : undefined;
  const pairs: string[] = [];
  names.forEach((a, i) =>
    names.slice(i + 1).forEach((b) => {
      const [x, y] = [spec(a), spec(b)];
      const addressed = [
        [x.conn, y.conn],
        [peerAddress(x), peerAddress(y)],
      ].some(([p, q]) => p!.port === q!.port && sameHost(state.addresses, p!.host, q!.host));
      const [ox, oy] = [observed.find((n) => n.name === a), observed.find((n) => n.name === b)];
      const printed = ox && oy && fingerprint(ox) !== undefined && fingerprint(ox) === fingerprint(oy);
      if (addressed)
        pairs.push(`${a} (${x.conn.host}:${x.conn.port}) and ${b} (${y.conn.host}:${y.conn.port}) are one address`);
      else if (printed)
        pairs.push(
          `${a} and ${b} are one server (system identifier ${ox.systemIdentifier}, data directory ${ox.settings.data_directory}, started ${ox.startedAt})`,
        );
    }),
  );
  return pairs.map((pair) =>
    fail('same-server', `the inventory lists one server twice: ${pair}; list each server once`),
  );
}

function sameCluster(state: ClusterState, observed: readonly NodeObservation[]): Check[] {
  const groups = new Map<string, string[]>();
  for (const n of observed) groups.set(n.systemIdentifier, [...(groups.get(n.systemIdentifier) ?? []), n.name]);
  if (groups.size <= 1)
    return observed.length
      ? [pass('same-cluster', `every node that answered has system identifier ${observed[0]!.systemIdentifier}`)]
      : [];
  const ours = clusterIdentifier(state, groups);
  if (!ours) {
    const said = [...groups].map(([id, names]) => `${names.join(', ')}: ${id}`).join('; ');
    return [
      fail(
        'same-cluster',
        `the nodes belong to different clusters (${said}) and nothing says which is this one: fix the inventory`,
      ),
    ];
  }
  return [...groups]
    .filter(([id]) => id !== ours)
    .flatMap(([id, names]) =>
      names.map((name) =>
        fail(
          'same-cluster',
          `${name} is not part of this cluster: its system identifier is ${id}, while ${groups.get(ours)!.join(', ')} have ${ours}; remove it from the inventory, or fix the address its dsn reaches`,
        ),
      ),
    );
}

/** The system identifier of most nodes; on a tie, that of the node the routers send clients to. */
function clusterIdentifier(state: ClusterState, groups: ReadonlyMap<string, string[]>): string | undefined {
  const sizes = [...groups].sort((a, b) => b[1].length - a[1].length);
  if (sizes[0]![1].length > sizes[1]![1].length) return sizes[0]![0];
  const routed = new Set(
    state.poolers.flatMap((p) => (p.reachable ? p.routes.map((r) => nodeAt(state, r.host, r.port)) : [])),
  );
  const hits = sizes.filter(([, names]) => names.some((n) => routed.has(n)));
  return hits.length === 1 ? hits[0]![0] : undefined;
}
