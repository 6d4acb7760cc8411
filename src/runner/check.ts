/**
 * `check`: observe the cluster once (each node asked once, within the failover's detection
 * timeout, so a hung primary costs that and no more), record the last sight of the primary for a
 * later failover, and judge readiness. Changes nothing in the cluster.
 */
import { Connections } from '../cluster/connections.js';
import { observeCluster } from '../cluster/observe.js';
import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/model.js';
import { loadPlaybook } from '../playbook/load.js';
import type { Playbook } from '../playbook/schema.js';
import { failover } from '../procedures/failover/index.js';
import { detectionOf } from '../procedures/failover/decide.js';
import { readiness, type Readiness } from '../procedures/readiness.js';
import { switchover } from '../procedures/switchover/index.js';
import { routerChecks } from '../routers/registry.js';
import { routeTargetOf } from '../routers/types.js';
import { primariesOf, type ClusterState } from '../model/cluster-state.js';
import { readLastSeen, recordLastSeen } from './last-seen.js';

export interface CheckInput {
  readonly inventory: Inventory;
  readonly playbooks: { readonly switchover: Playbook; readonly failover: Playbook };
  readonly journalDir: string;
}

export interface CheckResult extends Readiness {
  readonly at: string;
  readonly durationMs: number;
}

export async function loadCheckInput(inventoryFile: string, journalDir: string): Promise<CheckInput> {
  const inventory = await loadInventory(inventoryFile);
  const names = inventory.nodes.map((n) => n.name);
  const [s, f] = await Promise.all([
    loadPlaybook(switchover.defaultPlaybook, switchover.rules, names),
    loadPlaybook(failover.defaultPlaybook, failover.rules, names),
  ]);
  return { inventory, playbooks: { switchover: s, failover: f }, journalDir };
}

export async function checkOnce(input: CheckInput): Promise<CheckResult> {
  const started = performance.now();
  const timeoutMs = detectionOf(input.playbooks.failover).timeoutMs;
  const connections = await Connections.open(input.inventory, 'pg-handover check', {
    connectTimeoutMs: timeoutMs,
    attempts: 1,
  });
  try {
    const state = await observeCluster(connections, {
      queryTimeoutMs: timeoutMs,
      startedAt: started,
      witnessesIfSilent: timeoutMs,
    });
    const lastSeen = readLastSeen(input.journalDir, input.inventory.file);
    recordLastSeen(input.journalDir, input.inventory.file, state);
    const clients = await clientLogins(connections, input.inventory, state, timeoutMs);
    return {
      ...readiness(state, input.playbooks, routerChecks, lastSeen, clients),
      at: state.observedAt,
      durationMs: performance.now() - started,
    };
  } finally {
    await connections.close();
  }
}

/**
 * What a new client meets through each router, when one primary answers: a login that lands
 * there, writable, or the router's refusal. A router can point at the right node and still turn
 * every client away (PgBouncer for server_login_retry after its last login to a server that
 * crashed and came back: seen in the soak, seconds after a `check` said ready). One login each,
 * in parallel, bounded by the detection timeout.
 */
async function clientLogins(
  connections: Connections,
  inventory: Inventory,
  state: ClusterState,
  timeoutMs: number,
): Promise<Record<string, readonly string[]>> {
  const primaries = primariesOf(state);
  const spec = inventory.nodes.find((n) => n.name === primaries[0]?.name);
  if (primaries.length !== 1 || !spec) return {};
  const to = routeTargetOf(spec, state.addresses, state.nodes);
  const entries = await Promise.all(
    [...connections.routers.values()].map(
      async (router) => [router.spec.name, await router.clients(to, timeoutMs, 'pg-handover check')] as const,
    ),
  );
  return Object.fromEntries(entries.filter((e): e is readonly [string, string[]] => e[1] !== undefined));
}
