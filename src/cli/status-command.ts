/** `pg-handover status`: observe and print, nothing else. */
import { Connections } from '../cluster/connections.js';
import { observeCluster } from '../cluster/observe.js';
import { loadInventory } from '../inventory/load.js';
import { outJson, out } from './output.js';
import { renderStatus, statusJson } from './status-view.js';

export interface StatusFlags {
  inventory: string;
  json?: boolean;
}

export async function statusCommand(flags: StatusFlags): Promise<void> {
  const inventory = await loadInventory(flags.inventory);
  const connections = await Connections.open(inventory, 'pg-handover status');
  try {
    const state = await observeCluster(connections);
    if (flags.json) outJson(statusJson(state));
    else out(renderStatus(state));
  } finally {
    await connections.close();
  }
}
