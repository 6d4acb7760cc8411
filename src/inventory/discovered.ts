/**
 * What the servers told us about themselves, merged under what the inventory says: a node with
 * host access but no data_dir takes its server's data_directory; no bin_dir, the directory of the
 * binary its postmaster runs (postmaster.opts); no log_file, the file its output goes to now.
 * The inventory only overrides. Pure.
 */
import type { Inventory, NodeSpec } from './model.js';

export interface DiscoveredPaths {
  readonly dataDir?: string;
  readonly binDir?: string;
  /** Where its output goes now; a restart by pg_ctl keeps it there. */
  readonly logFile?: string;
}

export function withDiscovered(inventory: Inventory, found: Readonly<Record<string, DiscoveredPaths>>): Inventory {
  const nodes = inventory.nodes.map((node): NodeSpec => {
    const seen = found[node.name];
    if (!seen || !node.hostAccess) return node;
    const dataDir = node.dataDir ?? seen.dataDir;
    return {
      ...node,
      dataDir,
      binDir: node.binDir ?? seen.binDir,
      // Neither named nor found: pg_ctl start writes next to the data directory (server-control.ts).
      logFile: node.logFile ?? seen.logFile,
    };
  });
  return { ...inventory, nodes };
}

/** The paths a run acted with, per node, to record in its journal (a later run may find the node down). */
export const pathsOf = (inventory: Inventory): Record<string, DiscoveredPaths> =>
  Object.fromEntries(
    inventory.nodes
      .filter((n) => n.hostAccess)
      .map((n) => [n.name, { dataDir: n.dataDir, binDir: n.binDir, logFile: n.logFile }]),
  );
