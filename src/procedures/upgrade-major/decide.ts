/**
 * upgrade-major's checks, on an observation of the source and the target (pure). Before a
 * publication exists, every table needs a replica identity: with FOR ALL TABLES, an UPDATE or
 * DELETE on a table without one fails on the source itself, so the application would break.
 */
import { fail, pass, warn, type Check } from '../../decide/checks.js';
import type { SchemaLines, SourceDatabase, TableInfo, TargetDatabase, UpgradeState } from '../../model/logical.js';
import prettyBytes from 'pretty-bytes';
import { formatDsn } from '../../inventory/dsn.js';
import { peerAddress, type Inventory, type NodeSpec } from '../../inventory/model.js';
import type { ClusterState } from '../../model/cluster-state.js';
import type { NodeObservation } from '../../model/node.js';
import type { Decision } from '../../playbook/plan.js';
import type { Playbook, StepOf } from '../../playbook/schema.js';
import { roleFenceChecks } from '../../decide/managed.js';
import { pauseBudgetOf } from '../../steps/registry.js';
import type { PlanContext } from '../../steps/types.js';
import type { DecideInput } from '../types.js';
import type { UpgradeMajorOptions } from './options.js';

export interface UpgradeOptions {
  /** --accept-large-objects: they are not replicated; the operator copies them (or has none that matter). */
  readonly acceptLargeObjects?: boolean;
  /** 'prepare' (before and during the initial copy) or 'cutover' (everything must be replicating). */
  readonly phase: 'prepare' | 'cutover';
  /** 'back': from the new version to the old one (the target is the older major). */
  readonly direction?: 'forward' | 'back';
}

/** Retained WAL above this on the source is worth a warning even without max_slot_wal_keep_size. */
const RETAINED_WARN_BYTES = 1024 ** 3;
const MAX_DIFF_LINES = 12;

const major = (versionNum: number): number => Math.floor(versionNum / 10000);
const formatBytes = (n: number): string => prettyBytes(n, { binary: true });

/** A table whose UPDATEs and DELETEs can be published: default identity with a primary key, FULL, or an identity index. */
export const hasReplicaIdentity = (t: TableInfo): boolean =>
  t.identity === 'f' || (t.identity === 'd' && t.hasPrimaryKey) || (t.identity === 'i' && t.hasIdentityIndex);

/** What differs between two schemas, one line per object ("source only: …", "target only: …"). */
export function schemaDiff(source: SchemaLines, target: SchemaLines): string[] {
  const lines: string[] = [];
  for (const kind of ['tables', 'columns', 'indexes', 'constraints'] as const) {
    const [s, t] = [new Set(source[kind]), new Set(target[kind])];
    for (const line of source[kind]) if (!t.has(line)) lines.push(`${kind}: source only: ${line}`);
    for (const line of target[kind]) if (!s.has(line)) lines.push(`${kind}: target only: ${line}`);
  }
  return lines;
}

export function upgradeChecks(state: UpgradeState, options: UpgradeOptions): Check[] {
  const { source, target } = state;
  const checks: Check[] = [];
  const back = options.direction === 'back';
  checks.push(
    (back ? major(target.versionNum) < major(source.versionNum) : major(target.versionNum) > major(source.versionNum))
      ? pass(
          'upgrade-versions',
          `${source.node} runs PostgreSQL ${major(source.versionNum)}, ${target.node} PostgreSQL ${major(target.versionNum)}${back ? ' (the way back)' : ''}`,
        )
      : fail(
          'upgrade-versions',
          `${target.node} runs PostgreSQL ${major(target.versionNum)}, not ${back ? 'an older' : 'a newer'} major than ${source.node}'s ${major(source.versionNum)}`,
        ),
  );
  checks.push(
    source.walLevel === 'logical'
      ? pass('source-wal-level', `${source.node} has wal_level = logical`)
      : fail(
          'source-wal-level',
          `${source.node} has wal_level = ${source.walLevel}: a publication needs logical (ALTER SYSTEM SET wal_level = logical, then a restart: a switchover to a replica with it set keeps writes going)`,
        ),
  );
  checks.push(
    target.settings.wal_level === 'logical'
      ? pass('target-wal-level', `${target.node} has wal_level = logical (the way back replicates from it)`)
      : fail(
          'target-wal-level',
          `${target.node} has wal_level = ${target.settings.wal_level ?? '?'}: the way back (a publication on it) needs logical`,
        ),
  );
  const workers = Number(target.settings.max_logical_replication_workers ?? 0);
  checks.push(
    workers >= 2
      ? pass('target-workers', `${target.node} max_logical_replication_workers = ${workers}`)
      : fail(
          'target-workers',
          `${target.node} max_logical_replication_workers = ${workers}: the apply worker and at least one initial copy need 2`,
        ),
  );
  for (const db of source.databases)
    checks.push(
      ...databaseChecks(
        db,
        target.databases.find((t) => t.database === db.database),
        options,
      ),
    );
  return checks;
}

function databaseChecks(db: SourceDatabase, target: TargetDatabase | undefined, options: UpgradeOptions): Check[] {
  const name = db.database;
  const checks: Check[] = [];
  const missing = db.tables.filter((t) => !hasReplicaIdentity(t));
  checks.push(
    missing.length
      ? fail(
          'replica-identity',
          `${name}: ${missing.length} table(s) without a primary key or replica identity: ${missing.map((t) => t.name).join(', ')}; their UPDATEs and DELETEs could not be published (ALTER TABLE … ADD PRIMARY KEY, or REPLICA IDENTITY FULL)`,
        )
      : pass('replica-identity', `${name}: all ${db.tables.length} tables have a primary key or replica identity`),
  );
  if (db.largeObjects > 0) {
    // Refused (unless accepted) by prepare; at the cutover a reminder.
    checks.push(
      options.acceptLargeObjects || options.phase === 'cutover'
        ? warn(
            'large-objects',
            `${name}: ${db.largeObjects} large object(s) are not replicated (accepted): copy them yourself`,
          )
        : fail(
            'large-objects',
            `${name}: ${db.largeObjects} large object(s): logical replication does not carry them; copy them yourself and pass --accept-large-objects`,
          ),
    );
  } else {
    checks.push(pass('large-objects', `${name}: no large objects`));
  }
  if (options.phase === 'cutover' && db.slots.length === 0)
    checks.push(fail('source-slot', `${name}: no slot of this upgrade on the source: its subscription is missing`));
  if (!target?.exists) {
    checks.push(
      options.phase === 'prepare'
        ? pass(
            'schema',
            `${name}: not on the target yet: prepare creates it and copies the schema (pg_dump --schema-only)`,
          )
        : fail('schema', `${name}: no such database on the target: run upgrade-major prepare`),
    );
    return checks;
  }
  const empty = !target.schema?.tables.length;
  if (empty && options.phase === 'prepare') {
    checks.push(
      pass('schema', `${name}: no tables on the target yet: prepare copies the schema (pg_dump --schema-only)`),
    );
  } else {
    const diff = schemaDiff(db.schema, target.schema!);
    checks.push(
      diff.length
        ? fail(
            'schema',
            `${name}: the schemas differ (${diff.length}): ${diff.slice(0, MAX_DIFF_LINES).join('; ')}${diff.length > MAX_DIFF_LINES ? '; …' : ''}`,
          )
        : pass('schema', `${name}: tables, columns, indexes and constraints match (${db.schema.tables.length} tables)`),
    );
  }
  const sub = target.subscription;
  if (sub && (sub.applyErrors > 0 || sub.syncErrors > 0)) {
    checks.push(
      fail(
        'subscription-errors',
        `${name}: subscription ${sub.name} has ${sub.applyErrors} apply and ${sub.syncErrors} initial-copy error(s) (pg_stat_subscription_stats; the target's log says which)`,
      ),
    );
  }
  if (options.phase === 'cutover') checks.push(readiness(name, sub));
  for (const slot of db.slots) {
    if (slot.walStatus === 'lost')
      checks.push(
        fail(
          'source-slot',
          `${name}: slot ${slot.name} on the source is lost (its WAL was removed): drop the subscription and prepare again`,
        ),
      );
    else if (
      slot.walStatus === 'unreserved' ||
      (slot.safeWalBytes !== undefined && slot.safeWalBytes < slot.retainedBytes) ||
      slot.retainedBytes > RETAINED_WARN_BYTES
    ) {
      checks.push(
        warn(
          'source-slot',
          `${name}: slot ${slot.name} keeps ${formatBytes(slot.retainedBytes)} of WAL on the source (${slot.walStatus}${slot.safeWalBytes !== undefined ? `, ${formatBytes(slot.safeWalBytes)} more before it is lost` : ', no max_slot_wal_keep_size: until the disk is full'})`,
        ),
      );
    }
  }
  return checks;
}

/** The cutover needs every table ready (r) and the apply worker running. */
function readiness(name: string, sub: TargetDatabase['subscription']): Check {
  if (!sub) return fail('replicating', `${name}: no subscription on the target: run upgrade-major prepare`);
  const notReady = Object.entries(sub.tableStates).filter(([, s]) => s !== 'r');
  if (notReady.length)
    return fail(
      'replicating',
      `${name}: ${notReady.length} table(s) not ready yet: ${notReady.map(([t, s]) => `${t} (${s})`).join(', ')}`,
    );
  if (!sub.enabled || !sub.applyPid)
    return fail(
      'replicating',
      `${name}: the subscription's apply worker is not running${sub.enabled ? '' : ' (disabled)'}`,
    );
  return pass(
    'replicating',
    `${name}: ${Object.keys(sub.tableStates).length} tables ready, the apply worker streaming`,
  );
}

/** One line on the initial copy's progress, for prepare's watch. */
export function copyProgress(target: TargetDatabase, source: SourceDatabase | undefined): string {
  const sub = target.subscription;
  if (!sub) return `${target.database}: no subscription yet`;
  const counts: Record<string, number> = {};
  for (const state of Object.values(sub.tableStates)) counts[state] = (counts[state] ?? 0) + 1;
  const states = Object.entries(counts)
    .map(([s, n]) => `${n} ${STATE_NAMES[s] ?? s}`)
    .join(', ');
  const copying = Object.entries(sub.copying)
    .map(([t, b]) => `${t} ${formatBytes(b)}`)
    .join(', ');
  const retained = source?.slots.reduce((sum, s) => sum + s.retainedBytes, 0) ?? 0;
  return `${target.database}: ${states || 'no tables'}${copying ? `; copying ${copying}` : ''}; apply worker ${sub.applyPid ? 'running' : 'not running'}; source slots keep ${formatBytes(retained)} of WAL`;
}

const STATE_NAMES: Record<string, string> = { i: 'waiting', d: 'copying', f: 'copied', s: 'synced', r: 'ready' };

/** How `from`'s server logs in to `to` for a subscription (pure): `to`'s peer address, the tool's user there, the inventory's password file. */
export function subscriptionConninfo(inventory: Inventory, to: NodeSpec, database: string): string | undefined {
  if (!inventory.passfile) return undefined;
  const { host, port } = peerAddress(to);
  const tls = Object.fromEntries(Object.entries(to.conn.extra).filter(([k]) => k.startsWith('ssl')));
  return formatDsn({
    host,
    port: String(port),
    user: to.conn.user,
    dbname: database,
    passfile: inventory.passfile,
    ...tls,
  });
}

/** The cutover's context: clients move from `primary` (the publisher) to `target` (the subscriber). Pure. */
export function cutoverContext(
  state: ClusterState,
  primary: string,
  target: string,
  direction: 'forward' | 'back',
  fenceMethod: 'role-fence' | 'read-only' = 'read-only',
): PlanContext | undefined {
  const spec = (name: string) => state.inventory.nodes.find((n) => n.name === name)!;
  const databases = state.inventory.upgradeTarget?.databases ?? [];
  const conninfo = (to: string) =>
    Object.fromEntries(databases.map((db) => [db, subscriptionConninfo(state.inventory, spec(to), db) ?? '']));
  const observed = (name: string) => state.nodes.find((n): n is NodeObservation => n.name === name && n.reachable);
  return {
    inventory: state.inventory,
    state,
    primary: spec(primary),
    target: spec(target),
    siblings: [],
    waitFor: [],
    toCheck: [],
    unreachable: [],
    primaryObs: observed(primary),
    targetObs: observed(target),
    replication: { conninfo: '', usesSlots: false },
    fenceMethod,
    upgrade: {
      direction,
      databases,
      conninfo: { toPrimary: conninfo(primary), toTarget: conninfo(target) },
      sequences: Object.fromEntries(
        (state.upgrade?.source.databases ?? []).map((db) => [db.database, db.sequences.map((q) => q.name)]),
      ),
    },
  };
}

/** The cutover (or, with --back, the way back): the checks, and the context when the upgrade was observed. Pure. */
export function decideUpgradeMajor(
  state: ClusterState,
  playbook: Playbook,
  input: DecideInput<UpgradeMajorOptions>,
): Decision {
  const direction = input.options?.back ? 'back' : 'forward';
  const upgrade = state.upgrade;
  if (!upgrade)
    return { checks: [fail('upgrade-observed', 'the logical replication of the upgrade was not observed')] };
  const checks: Check[] = [...upgradeChecks(upgrade, { phase: 'cutover', direction })];
  const source = state.nodes.find((n): n is NodeObservation => n.name === upgrade.source.node && n.reachable);
  const target = state.nodes.find((n): n is NodeObservation => n.name === upgrade.target.node && n.reachable);
  if (!state.inventory.passfile)
    checks.push(
      fail(
        'passfile',
        "the servers log in to each other with the inventory's passfile (the way back is a subscription on the source): name it in the inventory",
      ),
    );
  if (target?.inRecovery)
    checks.push(fail('target-role', `${target.name} is in recovery: the subscriber must be its cluster's primary`));
  if (source && target) {
    const pauseBudgetMs = pauseBudgetOf(playbook.steps);
    checks.push(
      ...state.poolers.flatMap((router) => input.routerChecks(router, { state, primary: source, pauseBudgetMs })),
    );
    checks.push(
      pass(
        'target',
        `${target.name} (PostgreSQL ${Math.floor(upgrade.target.versionNum / 10000)}) takes the writes from ${source.name} (PostgreSQL ${Math.floor(upgrade.source.versionNum / 10000)}); ${source.name} stays, fenced, subscribed to it: the way back`,
      ),
    );
  }
  // The side that stops serving keeps no writer: its application roles NOLOGIN (the role fence);
  // `read-only` (advisory: BEGIN READ WRITE still writes) only where the playbook asks for it.
  const requested = playbook.steps.find((s): s is StepOf<'fence-writes'> => s.kind === 'fence-writes')?.method;
  const fenceMethod = requested === 'read-only' ? 'read-only' : 'role-fence';
  if (source && fenceMethod === 'role-fence') checks.push(...roleFenceChecks(source));
  if (!source || !target || checks.some((c) => c.verdict === 'fail')) return { checks };
  return { checks, context: cutoverContext(state, source.name, target.name, direction, fenceMethod) };
}
