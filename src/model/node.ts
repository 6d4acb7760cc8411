/** One node as observed at one moment: plain, immutable data. Read by postgres/observe.ts. */
import type { Lsn } from './lsn.js';

export interface WalReceiver {
  readonly status: string;
  readonly receivedTli: number | undefined;
  readonly flushedLsn: Lsn | undefined;
  readonly senderHost: string | undefined;
  readonly senderPort: number | undefined;
  readonly slotName: string | undefined;
  /** How long ago (on the replica's clock) it last heard anything from its upstream. */
  readonly lastMsgAgeMs?: number;
}

export interface ReplicationPeer {
  /** The walsender's pid (pg_replication_slots.active_pid names it too). */
  readonly pid: number;
  readonly applicationName: string;
  readonly clientAddr: string | undefined;
  readonly state: string;
  readonly syncState: string;
  readonly flushLsn: Lsn | undefined;
  readonly replayLsn: Lsn | undefined;
  readonly replayLagMs: number | undefined;
}

export interface SlotInfo {
  readonly name: string;
  readonly type: 'physical' | 'logical';
  readonly active: boolean;
  readonly activePid: number | undefined;
  readonly walStatus: string | undefined;
}

export interface Transaction {
  readonly pid: number;
  readonly user: string;
  readonly state: string;
  readonly ageMs: number;
}

/** An application role, as the role fence sees it before fencing (what the undo restores). */
export interface AppRole {
  readonly name: string;
  readonly canLogin: boolean;
  /** rolconnlimit: -1 for no limit. */
  readonly connLimit: number;
  readonly superuser: boolean;
  /** The tool's role may ALTER it (CREATEROLE, and from PostgreSQL 16 ADMIN OPTION on it; or superuser). */
  readonly alterable: boolean;
  /** Its client sessions now. */
  readonly sessions: number;
}

/** What a role fence needs on a primary: the application's roles, and whether the tool's role may fence them. */
export interface RoleFenceView {
  /** The tool's own role (current_user): never one of the roles it fences. */
  readonly tool: string;
  readonly signalBackend: boolean;
  readonly monitor: boolean;
  /** It can write the catch-up marker (the table exists and takes its INSERT, or it may create the schema). */
  readonly markerWritable: boolean;
  readonly roles: readonly AppRole[];
  /** Whether the roles were named by the inventory (else: the poolers' logins and the roles with sessions now). */
  readonly declared: boolean;
}

export interface NodeObservation {
  readonly name: string;
  readonly reachable: true;
  readonly inRecovery: boolean;
  readonly systemIdentifier: string;
  /** pg_postmaster_start_time(): with the system identifier and data directory, one server's fingerprint. */
  readonly startedAt?: string;
  readonly versionNum: number;
  readonly timeline: number | undefined;
  /** Primary: flushed WAL position. Replica: undefined. */
  readonly flushLsn: Lsn | undefined;
  readonly receiveLsn: Lsn | undefined;
  readonly replayLsn: Lsn | undefined;
  readonly replayPaused: boolean;
  /** Replica: how long ago the last replayed transaction committed on the primary (now() - pg_last_xact_replay_timestamp()). */
  readonly replayAgeMs: number | undefined;
  readonly isSuperuser: boolean;
  /** What the inventory's user lacks of the least-privilege set (sql/least-privilege.sql); empty for a superuser. */
  readonly missingPrivileges: readonly string[];
  readonly walReceiver: WalReceiver | undefined;
  readonly replication: readonly ReplicationPeer[];
  readonly slots: readonly SlotInfo[];
  readonly transactions: readonly Transaction[];
  readonly preparedXacts: number;
  readonly settings: Readonly<Record<string, string>>;
  /** The file each setting came from, where the server says (pg_settings.sourcefile; superusers and pg_read_all_settings see it). */
  readonly settingFiles?: Readonly<Record<string, string>>;
  /** A primary's: the application roles and the tool's rights over them, for the role fence. */
  readonly roleFence?: RoleFenceView;
  /** synchronous_standby_names in each config file (pg_file_settings), applied or overridden. */
  readonly syncNamesInFiles?: ReadonlyArray<{
    readonly file: string;
    readonly value: string;
    readonly applied: boolean;
  }>;
}

/**
 * Why a node did not answer, as a failover needs to know it: `refused` (nothing listens: down),
 * `timeout` (connection or query not answered in time: hung, or a network black hole),
 * `unreachable` (no route, unknown host), `auth` (it answered and refused us), `other`.
 */
export type Silence = 'refused' | 'timeout' | 'unreachable' | 'auth' | 'other';

export interface UnreachableNode {
  readonly name: string;
  readonly reachable: false;
  readonly error: string;
  readonly silence?: Silence;
}

/** A connection or query error, classified (see Silence). */
export function silenceOf(code: string | undefined, message: string): Silence {
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === '57P01' || code === '57P03')
    return 'refused';
  if (code === 'timeout' || code === 'ETIMEDOUT' || /timeout|timed out/i.test(message)) return 'timeout';
  if (code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN')
    return 'unreachable';
  if (code !== undefined && /^28/.test(code)) return 'auth';
  if (/terminat|closed|ended unexpectedly/i.test(message)) return 'refused';
  return 'other';
}

export type NodeState = NodeObservation | UnreachableNode;

/** A setting's file is postgresql.auto.conf (ALTER SYSTEM), not the operator's config file. */
export const isAutoConf = (file: string): boolean => /(^|\/)postgresql\.auto\.conf$/.test(file);

/** synchronous_standby_names comes from the operator's config file (known only where the server tells: pg_settings.sourcefile). */
export const syncNamesFromConfigFile = (node: NodeObservation): boolean => {
  const file = node.settingFiles?.synchronous_standby_names;
  return file !== undefined && !isAutoConf(file);
};

export const majorOf = (versionNum: number): number => Math.floor(versionNum / 10000);

/** "15.18" (from `postgres --version`) as server_version_num counts it: 150018. Undefined if not a version. */
export function versionNumOf(text: string): number | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text) ?? /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match) return undefined;
  const major = Number(match[1]);
  return major >= 10 ? major * 10000 + Number(match[2] ?? 0) : undefined;
}

/** 150018 as people write it: 15.18. */
export const versionText = (versionNum: number): string => `${Math.floor(versionNum / 10000)}.${versionNum % 10000}`;

/**
 * Whose primary_conninfo is the model for a node that will stream: the first replica's; failing
 * that, a primary's own (kept from when it was a replica: a promotion leaves it in place, inert,
 * so a two-node cluster after a failover still knows the replication user and passfile).
 */
export const conninfoModel = (nodes: readonly NodeObservation[]): NodeObservation | undefined =>
  nodes.find((n) => n.inRecovery && n.settings.primary_conninfo) ?? nodes.find((n) => n.settings.primary_conninfo);
