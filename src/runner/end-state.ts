/**
 * What the cluster looks like when a run ends, observed afresh: which nodes accept writes and
 * where each router sends clients, paused or not. The report's headline is judged from this, never
 * from which code path ran (a rollback that could not restart the old primary is not a rollback).
 */
import { inventoryAppRoles } from '../inventory/model.js';
import type { Connections } from '../cluster/connections.js';
import { nodeAt, type ClusterState } from '../model/cluster-state.js';
import { silenceOf, type Silence } from '../model/node.js';
import { messageOf } from '../postgres/session.js';
import { askWritable, isWritable } from '../postgres/writable.js';

export interface PoolerEnd {
  readonly name: string;
  readonly reachable: boolean;
  /** The node its pooled databases point at ('several' when they disagree, or host:port). */
  readonly pointsAt?: string;
  readonly paused?: boolean;
  readonly error?: string;
}

export interface EndState {
  readonly writable: readonly string[];
  readonly silent: readonly string[];
  /** Why each silent node is silent: `refused` (its host answered that nothing listens: down) or another Silence, unproven. */
  readonly silence?: Readonly<Record<string, Silence>>;
  readonly poolers: readonly PoolerEnd[];
}

export async function observeEndState(connections: Connections, state: ClusterState): Promise<EndState> {
  const inventory = connections.inventory;
  const [nodes, poolers] = await Promise.all([
    Promise.all(
      inventory.nodes.map(async (node) => ({ name: node.name, ...(await probeWritable(connections, node.name)) })),
    ),
    Promise.all(inventory.poolers.map((spec) => probePooler(connections, state, spec.name))),
  ]);
  return {
    writable: nodes.filter((n) => n.writable === true).map((n) => n.name),
    silent: nodes.filter((n) => n.writable === undefined).map((n) => n.name),
    silence: Object.fromEntries(nodes.flatMap((n) => (n.silence ? [[n.name, n.silence]] : []))),
    poolers,
  };
}

/** writable true/false, or undefined (with why) when the node does not answer within a couple of seconds. */
async function probeWritable(
  connections: Connections,
  name: string,
): Promise<{ writable?: boolean; silence?: Silence }> {
  const spec = connections.inventory.nodes.find((n) => n.name === name)!;
  const options = {
    applicationName: connections.applicationName,
    attempts: 1,
    connectTimeoutMs: 1500,
    queryTimeoutMs: 2000,
    appRoles: inventoryAppRoles(connections.inventory),
  };
  return askWritable(name, spec.conn, options).then(
    (w) => ({ writable: isWritable(w) }),
    (error: { pgCode?: string }) => ({ silence: silenceOf(error.pgCode, messageOf(error)) }),
  );
}

async function probePooler(connections: Connections, state: ClusterState, name: string): Promise<PoolerEnd> {
  try {
    const routes = await connections.router(name).routes();
    const targets = new Set(routes.map((r) => nodeAt(state, r.host, r.port) ?? `${r.host}:${r.port}`));
    return {
      name,
      reachable: true,
      pointsAt: targets.size === 1 ? [...targets][0] : 'several',
      paused: routes.some((r) => r.paused),
    };
  } catch (error) {
    return { name, reachable: false, error: messageOf(error) };
  }
}

/** Whether `node` is the one writer and every pooler sends clients to it, unpaused. */
export function servesFrom(end: EndState, node: string): boolean {
  return (
    end.writable.length === 1 &&
    end.writable[0] === node &&
    end.poolers.every((p) => p.reachable && p.pointsAt === node && !p.paused)
  );
}

/**
 * One line: the verified end state, for the report. "Unreachable from here" is not "down": a
 * silent node is called down only when its host refused the connection (nothing listens) or
 * its fence_command ran (`fenced`); otherwise "the only writable primary" is said only of the
 * nodes that answered.
 */
export function describeEndState(end: EndState, fenced: readonly string[] = []): string {
  const proven = (name: string) => fenced.includes(name) || end.silence?.[name] === 'refused';
  const doubt = end.silent.filter((name) => !proven(name));
  const writers =
    end.writable.length === 0
      ? doubt.length
        ? 'NO writable primary answers'
        : 'NO writable primary'
      : end.writable.length === 1
        ? `${end.writable[0]} is the only writable primary${doubt.length ? ' that answers' : ''}`
        : `TWO OR MORE WRITABLE PRIMARIES: ${end.writable.join(', ')}`;
  const poolers = end.poolers.map((p) =>
    p.reachable ? `${p.name} -> ${p.pointsAt}${p.paused ? ' (PAUSED)' : ''}` : `${p.name} unreachable`,
  );
  const silent = end.silent.map((name) =>
    fenced.includes(name)
      ? `${name} fenced by its fence_command`
      : end.silence?.[name] === 'refused'
        ? `${name} down (connection refused)`
        : `${name} does not answer the tool (${end.silence?.[name] ?? 'no answer'}): not proven down`,
  );
  return `${writers}; ${poolers.join(', ')}${silent.length ? `; ${silent.join('; ')}` : ''}`;
}
