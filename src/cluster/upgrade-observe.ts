/**
 * Observation for upgrade-major: the source cluster's primary and the target's, and, for each
 * database to upgrade, what both say about it (postgres/logical.ts). Sessions are opened for the
 * observation and closed after it.
 */
import { EnvironmentError } from '../errors.js';
import type { Inventory, NodeSpec } from '../inventory/model.js';
import type { UpgradeState } from '../model/logical.js';
import { inDatabase as withSession, readSourceDatabase, readTargetDatabase } from '../postgres/logical.js';
import { messageOf, NodeSession } from '../postgres/session.js';

export interface UpgradeObservation {
  readonly state: UpgradeState;
  readonly source: NodeSpec;
  readonly target: NodeSpec;
}

const SETTINGS = [
  'wal_level',
  'max_logical_replication_workers',
  'max_replication_slots',
  'max_wal_senders',
  'default_transaction_read_only',
];

/** The one node of `nodes` that is not in recovery. */
async function primaryOf(
  nodes: readonly NodeSpec[],
  what: string,
): Promise<{ node: NodeSpec; versionNum: number; settings: Record<string, string> }> {
  const seen = await Promise.all(
    nodes.map(async (node) => {
      try {
        const session = await NodeSession.open(node.name, node.conn);
        try {
          const row = await session.one<{ rec: boolean; v: string; s: Record<string, string> }>(
            `SELECT pg_is_in_recovery() AS rec, current_setting('server_version_num') AS v,
             (SELECT json_object_agg(name, setting) FROM pg_settings WHERE name = ANY($1)) AS s`,
            [SETTINGS],
          );
          return { node, primary: !row.rec, versionNum: Number(row.v), settings: row.s };
        } finally {
          await session.close();
        }
      } catch (error) {
        return { node, primary: false, versionNum: 0, settings: {}, error: messageOf(error) };
      }
    }),
  );
  const primaries = seen.filter((s) => s.primary);
  if (primaries.length !== 1) {
    const why = seen
      .map((s) => `${s.node.name}: ${'error' in s ? s.error : s.primary ? 'primary' : 'replica'}`)
      .join('; ');
    throw new EnvironmentError(`${what}: expected exactly one primary, found ${primaries.length} (${why})`);
  }
  return primaries[0]!;
}

/** 'forward': the current cluster publishes, the upgrade target subscribes; 'back' (after a cutover): the other way. */
export async function observeUpgrade(
  inventory: Inventory,
  direction: 'forward' | 'back' = 'forward',
): Promise<UpgradeObservation> {
  const upgrade = inventory.upgradeTarget;
  if (!upgrade)
    throw new EnvironmentError(`${inventory.file} has no upgrade_target: name the new version's nodes there`);
  // During a run the target's nodes are among `nodes` too (the run acts on both).
  const old = inventory.nodes.filter((n) => !upgrade.nodes.some((t) => t.name === n.name));
  const [oldPrimary, newPrimary] = await Promise.all([
    primaryOf(old, 'current cluster'),
    primaryOf(upgrade.nodes.slice(0, 1), 'upgrade target'),
  ]);
  const [source, target] = direction === 'forward' ? [oldPrimary, newPrimary] : [newPrimary, oldPrimary];
  const existing = await withSession(target.node, 'postgres', (s) =>
    s.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [upgrade.databases]),
  );
  const databases = await Promise.all(
    upgrade.databases.map(async (db) => ({
      source: await withSession(source.node, db, (s) => readSourceDatabase(s, db)),
      target: existing.some((r) => r.datname === db)
        ? await withSession(target.node, db, (s) => readTargetDatabase(s, db))
        : await readTargetDatabase(undefined, db),
    })),
  );
  return {
    source: source.node,
    target: target.node,
    state: {
      source: {
        node: source.node.name,
        versionNum: source.versionNum,
        walLevel: source.settings.wal_level ?? '?',
        databases: databases.map((d) => d.source),
      },
      target: {
        node: target.node.name,
        versionNum: target.versionNum,
        settings: target.settings,
        databases: databases.map((d) => d.target),
      },
    },
  };
}
