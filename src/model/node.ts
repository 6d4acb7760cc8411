/** One node as observed at one moment: plain, immutable data. Read by postgres/observe.ts. */
import type { Lsn } from './lsn.js';

export interface WalReceiver {
  readonly status: string;
  readonly receivedTli: number | undefined;
  readonly flushedLsn: Lsn | undefined;
  readonly senderHost: string | undefined;
  readonly senderPort: number | undefined;
  readonly slotName: string | undefined;
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

export interface NodeObservation {
  readonly name: string;
  readonly reachable: true;
  readonly inRecovery: boolean;
  readonly systemIdentifier: string;
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
}

export interface UnreachableNode {
  readonly name: string;
  readonly reachable: false;
  readonly error: string;
}

export type NodeState = NodeObservation | UnreachableNode;

export const majorOf = (versionNum: number): number => Math.floor(versionNum / 10000);
