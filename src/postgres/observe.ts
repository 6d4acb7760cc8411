/**
 * Reads one node into a plain, immutable observation. Read-only: nothing here changes state.
 */
import type { NodeSpec } from '../inventory/model.js';
import { parseConninfo } from '../inventory/dsn.js';
import { registerSecret } from '../util/secrets.js';
import { parseLsn, type Lsn } from '../model/lsn.js';
import type { NodeObservation, WalReceiver } from '../model/node.js';
import { observeRoleFence } from './role-fence.js';
import { NodeSession } from './session.js';

const SETTINGS = [
  'max_connections',
  'max_worker_processes',
  'max_wal_senders',
  'max_prepared_transactions',
  'max_locks_per_transaction',
  'hot_standby',
  'default_transaction_read_only',
  'primary_conninfo',
  'primary_slot_name',
  'synchronous_standby_names',
  'synchronous_commit',
  'cluster_name',
  'wal_level',
  'recovery_min_apply_delay',
  'data_directory',
  'config_file',
  'wal_log_hints',
  'data_checksums',
  'wal_receiver_timeout',
  'port',
];

export async function observeNode(
  node: NodeSpec,
  session: NodeSession,
  timeoutMs = 10_000,
  appRoles?: { declared?: readonly string[]; poolerLogins: readonly string[] },
): Promise<NodeObservation> {
  const base = await session.one<Record<string, string | number | boolean | null>>(
    `
    SELECT pg_is_in_recovery() AS in_recovery,
      (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
      current_setting('server_version_num')::int AS version_num,
      CASE WHEN pg_is_in_recovery() THEN NULL
           ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS primary_tli,
      (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli,
      CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_flush_lsn()::text END AS flush_lsn,
      pg_last_wal_receive_lsn()::text AS receive_lsn,
      pg_last_wal_replay_lsn()::text AS replay_lsn,
      (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::float8 AS replay_age_ms,
      CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE 'not paused' END AS pause_state,
      (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_superuser,
      (SELECT count(*) FROM pg_prepared_xacts)::int AS prepared_xacts,
      pg_postmaster_start_time()::text AS started_at`,
    [],
    timeoutMs,
  );
  const [receiver, peers, slots, transactions, settings] = [
    await session.query<Record<string, string | number | null>>(RECEIVER_VIEW_SQL, [], timeoutMs),
    await session.query<Record<string, string | number | null>>(
      `SELECT pid, application_name, client_addr::text AS client_addr, state, sync_state,
              flush_lsn::text AS flush_lsn, replay_lsn::text AS replay_lsn,
              (extract(epoch FROM replay_lag) * 1000)::float8 AS replay_lag_ms
         FROM pg_stat_replication`,
      [],
      timeoutMs,
    ),
    await session.query<Record<string, string | number | boolean | null>>(
      `SELECT slot_name, slot_type, active, active_pid, wal_status FROM pg_replication_slots`,
      [],
      timeoutMs,
    ),
    await session.query<Record<string, string | number>>(
      `SELECT pid, coalesce(usename, '') AS usename, coalesce(state, '') AS state,
              (extract(epoch FROM now() - xact_start) * 1000)::float8 AS age_ms
         FROM pg_stat_activity
        WHERE xact_start IS NOT NULL AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      [],
      timeoutMs,
    ),
    await session.query<{ name: string; setting: string; sourcefile: string | null }>(
      `SELECT name, setting, sourcefile FROM pg_settings WHERE name = ANY($1)`,
      [SETTINGS],
      timeoutMs,
    ),
  ];
  registerConninfoPassword(settings.find((row) => row.name === 'primary_conninfo')?.setting);
  // Every file's value of it, applied or overridden (superusers only: for others the server would
  // log a permission error on every observation, so it is not asked).
  const syncInFiles = base.is_superuser
    ? await session
        .query<{ sourcefile: string; setting: string; applied: boolean }>(
          "SELECT sourcefile, setting, applied FROM pg_file_settings WHERE name = 'synchronous_standby_names'",
          [],
          timeoutMs,
        )
        .catch(() => [])
    : [];
  const missingPrivileges = base.is_superuser ? [] : await missingOf(session, Number(base.version_num));
  // A primary's application roles, for the role fence; read-only, a few rows.
  const roleFence =
    base.in_recovery || !appRoles
      ? undefined
      : await observeRoleFence(session, appRoles, Number(base.version_num), timeoutMs);
  const walReceiver = receiver[0];
  const receivedTli = walReceiver?.received_tli == null ? undefined : Number(walReceiver.received_tli);
  const checkpointTli = Number(base.checkpoint_tli);
  return {
    name: node.name,
    reachable: true,
    inRecovery: Boolean(base.in_recovery),
    systemIdentifier: String(base.system_identifier),
    startedAt: base.started_at == null ? undefined : String(base.started_at),
    versionNum: Number(base.version_num),
    timeline: base.primary_tli != null ? Number(base.primary_tli) : Math.max(receivedTli ?? 0, checkpointTli),
    flushLsn: parseLsn(base.flush_lsn as string | null),
    receiveLsn: parseLsn(base.receive_lsn as string | null),
    replayLsn: parseLsn(base.replay_lsn as string | null),
    replayPaused: base.pause_state !== 'not paused',
    replayAgeMs: base.replay_age_ms == null ? undefined : Number(base.replay_age_ms),
    isSuperuser: Boolean(base.is_superuser),
    missingPrivileges,
    walReceiver: walReceiver && receiverOf(walReceiver),
    replication: peers.map((row) => ({
      pid: Number(row.pid),
      applicationName: String(row.application_name ?? ''),
      clientAddr: row.client_addr == null ? undefined : String(row.client_addr),
      state: String(row.state ?? ''),
      syncState: String(row.sync_state ?? ''),
      flushLsn: parseLsn(row.flush_lsn as string | null),
      replayLsn: parseLsn(row.replay_lsn as string | null),
      replayLagMs: row.replay_lag_ms == null ? undefined : Number(row.replay_lag_ms),
    })),
    slots: slots.map((row) => ({
      name: String(row.slot_name),
      type: row.slot_type === 'logical' ? 'logical' : 'physical',
      active: Boolean(row.active),
      activePid: row.active_pid == null ? undefined : Number(row.active_pid),
      walStatus: row.wal_status == null ? undefined : String(row.wal_status),
    })),
    transactions: transactions.map((row) => ({
      pid: Number(row.pid),
      user: String(row.usename),
      state: String(row.state),
      ageMs: Number(row.age_ms),
    })),
    preparedXacts: Number(base.prepared_xacts),
    settings: Object.fromEntries(settings.map((row) => [row.name, row.setting])),
    settingFiles: Object.fromEntries(settings.flatMap((row) => (row.sourcefile ? [[row.name, row.sourcefile]] : []))),
    ...(roleFence ? { roleFence } : {}),
    syncNamesInFiles: syncInFiles.map((row) => ({
      file: String(row.sourcefile),
      value: String(row.setting),
      applied: Boolean(row.applied),
    })),
  };
}

const RECEIVER_VIEW_SQL = `SELECT status, received_tli, flushed_lsn::text AS flushed_lsn, sender_host, sender_port, slot_name,
    (extract(epoch FROM clock_timestamp() - last_msg_receipt_time) * 1000)::float8 AS last_msg_age_ms
  FROM pg_stat_wal_receiver`;

function receiverOf(row: Record<string, string | number | null>): WalReceiver {
  return {
    status: String(row.status),
    receivedTli: row.received_tli == null ? undefined : Number(row.received_tli),
    flushedLsn: parseLsn(row.flushed_lsn as string | null),
    senderHost: row.sender_host == null ? undefined : String(row.sender_host),
    senderPort: row.sender_port == null ? undefined : Number(row.sender_port),
    slotName: row.slot_name == null ? undefined : String(row.slot_name),
    lastMsgAgeMs: row.last_msg_age_ms == null ? undefined : Number(row.last_msg_age_ms),
  };
}

/** A replica's WAL receiver right now (undefined: none running), with its receive position. */
export async function readReceiver(
  session: Pick<NodeSession, 'query' | 'one'>,
  timeoutMs: number,
): Promise<{ receiver?: WalReceiver; receiveLsn?: Lsn }> {
  const [rows, position] = [
    await session.query<Record<string, string | number | null>>(RECEIVER_VIEW_SQL, [], timeoutMs),
    await session.one<{ lsn: string | null }>('SELECT pg_last_wal_receive_lsn()::text AS lsn', [], timeoutMs),
  ];
  return { receiver: rows[0] && receiverOf(rows[0]), receiveLsn: parseLsn(position.lsn) };
}

/** The parameters a run changes with ALTER SYSTEM. */
const ALTERED_PARAMETERS = [
  'primary_conninfo',
  'primary_slot_name',
  'default_transaction_read_only',
  'synchronous_standby_names',
];

/**
 * The least-privilege set (sql/least-privilege.sql), each named as the GRANT that gives it.
 * Before PostgreSQL 15 (no ALTER SYSTEM grants, no pg_checkpoint) only a superuser will do.
 */
async function missingOf(session: NodeSession, versionNum: number): Promise<string[]> {
  if (versionNum < 150000) return ['superuser (before PostgreSQL 15, ALTER SYSTEM and CHECKPOINT need one)'];
  const row = await session.one<Record<string, boolean>>(`
    SELECT (SELECT rolreplication FROM pg_roles WHERE rolname = current_user) AS "REPLICATION (ALTER ROLE ... REPLICATION)",
      pg_has_role('pg_monitor', 'USAGE') AS "GRANT pg_monitor",
      pg_has_role('pg_signal_backend', 'USAGE') AS "GRANT pg_signal_backend",
      pg_has_role('pg_checkpoint', 'USAGE') AS "GRANT pg_checkpoint",
      has_function_privilege('pg_promote(boolean, integer)', 'EXECUTE') AS "GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer)",
      has_function_privilege('pg_reload_conf()', 'EXECUTE') AS "GRANT EXECUTE ON FUNCTION pg_reload_conf()",
      ${ALTERED_PARAMETERS.map((p) => `has_parameter_privilege('${p}', 'ALTER SYSTEM') AS "GRANT ALTER SYSTEM ON PARAMETER ${p}"`).join(',\n      ')}`);
  return Object.entries(row)
    .filter(([, granted]) => !granted)
    .map(([grant]) => grant);
}

/** A replica's replication password is a secret we did not read from the inventory: mask it too. */
function registerConninfoPassword(conninfo: string | undefined): void {
  try {
    registerSecret(parseConninfo(conninfo ?? '').password);
  } catch {
    // unparseable: nothing to register; the plan shows it masked as a whole
  }
}
