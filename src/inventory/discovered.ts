/**
 * What the servers told us about themselves, merged under what the inventory says: a node with
 * host access but no data_dir takes its server's data_directory; no bin_dir, the directory of the
 * binary its postmaster runs (postmaster.opts). The inventory only overrides. Pure.
 */
import { dirname, join } from 'node:path';
import type { Inventory, NodeSpec } from './model.js';

export interface DiscoveredPaths {
  readonly dataDir?: string;
  readonly binDir?: string;
}

export function withDiscovered(inventory: Inventory, found: Readonly<Record<string, DiscoveredPaths>>): Inventory {
  const nodes = inventory.nodes.map((node): NodeSpec => {
    const seen = found[node.name];
    if (!seen || !node.hostAccess) return node;
    const dataDir = node.dataDir ?? seen.dataDir;
    return {
      ...node, dataDir, binDir: node.binDir ?? seen.binDir,
      logFile: node.logFile ?? (dataDir ? join(dirname(dataDir), `${node.name}.log`) : undefined),
    };
  });
  return { ...inventory, nodes };
}

/** The paths a run acted with, per node, to record in its journal (a later run may find the node down). */
export const pathsOf = (inventory: Inventory): Record<string, DiscoveredPaths> =>
  Object.fromEntries(inventory.nodes.filter((n) => n.hostAccess).map((n) => [n.name, { dataDir: n.dataDir, binDir: n.binDir }]));
