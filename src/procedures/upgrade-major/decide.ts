/**
 * upgrade-major's checks, on an observation of the source and the target (pure). Before a
 * publication exists, every table needs a replica identity: with FOR ALL TABLES, an UPDATE or
 * DELETE on a table without one fails on the source itself, so the application would break.
 */
import { fail, pass, warn, type Check } from '../../decide/checks.js';
import type { SchemaLines, SourceDatabase, TableInfo, TargetDatabase, UpgradeState } from '../../model/logical.js';
import prettyBytes from 'pretty-bytes';

export interface UpgradeOptions {
  /** --accept-large-objects: they are not replicated; the operator copies them (or has none that matter). */
  readonly acceptLargeObjects?: boolean;
  /** 'prepare' (before and during the initial copy) or 'cutover' (everything must be replicating). */
  readonly phase: 'prepare' | 'cutover';
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
  checks.push(major(target.versionNum) > major(source.versionNum)
    ? pass('upgrade-versions', `${source.node} runs PostgreSQL ${major(source.versionNum)}, ${target.node} PostgreSQL ${major(target.versionNum)}`)
    : fail('upgrade-versions', `${target.node} runs PostgreSQL ${major(target.versionNum)}, not a newer major than ${source.node}'s ${major(source.versionNum)}`));
  checks.push(source.walLevel === 'logical'
    ? pass('source-wal-level', `${source.node} has wal_level = logical`)
    : fail('source-wal-level', `${source.node} has wal_level = ${source.walLevel}: a publication needs logical (ALTER SYSTEM SET wal_level = logical, then a restart: a switchover to a replica with it set keeps writes going)`));
  checks.push(target.settings.wal_level === 'logical'
    ? pass('target-wal-level', `${target.node} has wal_level = logical (the way back replicates from it)`)
    : fail('target-wal-level', `${target.node} has wal_level = ${target.settings.wal_level ?? '?'}: the way back (a publication on it) needs logical`));
  const workers = Number(target.settings.max_logical_replication_workers ?? 0);
  checks.push(workers >= 2
    ? pass('target-workers', `${target.node} max_logical_replication_workers = ${workers}`)
    : fail('target-workers', `${target.node} max_logical_replication_workers = ${workers}: the apply worker and at least one initial copy need 2`));
  for (const db of source.databases) checks.push(...databaseChecks(db, target.databases.find((t) => t.database === db.database), options));
  return checks;
}

function databaseChecks(db: SourceDatabase, target: TargetDatabase | undefined, options: UpgradeOptions): Check[] {
  const name = db.database;
  const checks: Check[] = [];
  const missing = db.tables.filter((t) => !hasReplicaIdentity(t));
  checks.push(missing.length
    ? fail('replica-identity', `${name}: ${missing.length} table(s) without a primary key or replica identity: ${missing.map((t) => t.name).join(', ')}; their UPDATEs and DELETEs could not be published (ALTER TABLE … ADD PRIMARY KEY, or REPLICA IDENTITY FULL)`)
    : pass('replica-identity', `${name}: all ${db.tables.length} tables have a primary key or replica identity`));
  if (db.largeObjects > 0) {
    checks.push(options.acceptLargeObjects
      ? warn('large-objects', `${name}: ${db.largeObjects} large object(s) are not replicated (accepted): copy them yourself`)
      : fail('large-objects', `${name}: ${db.largeObjects} large object(s): logical replication does not carry them; copy them yourself and pass --accept-large-objects`));
  } else {
    checks.push(pass('large-objects', `${name}: no large objects`));
  }
  if (!target?.exists) {
    checks.push(options.phase === 'prepare'
      ? pass('schema', `${name}: not on the target yet: prepare creates it and copies the schema (pg_dump --schema-only)`)
      : fail('schema', `${name}: no such database on the target: run upgrade-major prepare`));
    return checks;
  }
  const empty = !target.schema?.tables.length;
  if (empty && options.phase === 'prepare') {
    checks.push(pass('schema', `${name}: no tables on the target yet: prepare copies the schema (pg_dump --schema-only)`));
  } else {
    const diff = schemaDiff(db.schema, target.schema!);
    checks.push(diff.length
      ? fail('schema', `${name}: the schemas differ (${diff.length}): ${diff.slice(0, MAX_DIFF_LINES).join('; ')}${diff.length > MAX_DIFF_LINES ? '; …' : ''}`)
      : pass('schema', `${name}: tables, columns, indexes and constraints match (${db.schema.tables.length} tables)`));
  }
  const sub = target.subscription;
  if (sub && (sub.applyErrors > 0 || sub.syncErrors > 0)) {
    checks.push(fail('subscription-errors', `${name}: subscription ${sub.name} has ${sub.applyErrors} apply and ${sub.syncErrors} initial-copy error(s) (pg_stat_subscription_stats; the target's log says which)`));
  }
  if (options.phase === 'cutover') checks.push(readiness(name, sub));
  for (const slot of db.slots) {
    if (slot.walStatus === 'lost') checks.push(fail('source-slot', `${name}: slot ${slot.name} on the source is lost (its WAL was removed): drop the subscription and prepare again`));
    else if (slot.walStatus === 'unreserved' || (slot.safeWalBytes !== undefined && slot.safeWalBytes < slot.retainedBytes) || slot.retainedBytes > RETAINED_WARN_BYTES) {
      checks.push(warn('source-slot', `${name}: slot ${slot.name} keeps ${formatBytes(slot.retainedBytes)} of WAL on the source (${slot.walStatus}${slot.safeWalBytes !== undefined ? `, ${formatBytes(slot.safeWalBytes)} more before it is lost` : ', no max_slot_wal_keep_size: until the disk is full'})`));
    }
  }
  return checks;
}

/** The cutover needs every table ready (r) and the apply worker running. */
function readiness(name: string, sub: TargetDatabase['subscription']): Check {
  if (!sub) return fail('replicating', `${name}: no subscription on the target: run upgrade-major prepare`);
  const notReady = Object.entries(sub.tableStates).filter(([, s]) => s !== 'r');
  if (notReady.length) return fail('replicating', `${name}: ${notReady.length} table(s) not ready yet: ${notReady.map(([t, s]) => `${t} (${s})`).join(', ')}`);
  if (!sub.enabled || !sub.applyPid) return fail('replicating', `${name}: the subscription's apply worker is not running${sub.enabled ? '' : ' (disabled)'}`);
  return pass('replicating', `${name}: ${Object.keys(sub.tableStates).length} tables ready, the apply worker streaming`);
}

/** One line on the initial copy's progress, for prepare's watch. */
export function copyProgress(target: TargetDatabase, source: SourceDatabase | undefined): string {
  const sub = target.subscription;
  if (!sub) return `${target.database}: no subscription yet`;
  const counts: Record<string, number> = {};
  for (const state of Object.values(sub.tableStates)) counts[state] = (counts[state] ?? 0) + 1;
  const states = Object.entries(counts).map(([s, n]) => `${n} ${STATE_NAMES[s] ?? s}`).join(', ');
  const copying = Object.entries(sub.copying).map(([t, b]) => `${t} ${formatBytes(b)}`).join(', ');
  const retained = source?.slots.reduce((sum, s) => sum + s.retainedBytes, 0) ?? 0;
  return `${target.database}: ${states || 'no tables'}${copying ? `; copying ${copying}` : ''}; apply worker ${sub.applyPid ? 'running' : 'not running'}; source slots keep ${formatBytes(retained)} of WAL`;
}

const STATE_NAMES: Record<string, string> = { i: 'waiting', d: 'copying', f: 'copied', s: 'synced', r: 'ready' };
