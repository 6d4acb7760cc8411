/**
 * `check`: observe the cluster once (each node asked once, within the failover's detection
 * timeout, so a hung primary costs that and no more), record the last sight of the primary for a
 * later failover, and judge readiness. Changes nothing in the cluster.
 */
import { clientLogins, problemsOf } from '../cluster/client-logins.js';
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
    const clients = await clientLogins(connections, input.inventory, state, timeoutMs, 'pg-handover check');
    return {
      ...readiness(state, input.playbooks, routerChecks, lastSeen, problemsOf(clients)),
      at: state.observedAt,
      durationMs: performance.now() - started,
    };
  } finally {
    await connections.close();
  }
}
