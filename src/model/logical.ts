/**
 * A major-version upgrade's view of one database, on the source (the current cluster) and on the
 * target (the cluster on the new version that subscribes to it). Pure data.
 */

export interface TableInfo {
  /** schema.name, quoted as needed. */
  readonly name: string;
  /** relreplident: d(efault: the primary key), n(othing), f(ull), i(ndex). */
  readonly identity: 'd' | 'n' | 'f' | 'i';
  readonly hasPrimaryKey: boolean;
  readonly hasIdentityIndex: boolean;
}

/** Tables, columns, indexes and constraints as comparable lines (one per object). */
export interface SchemaLines {
  readonly tables: readonly string[];
  readonly columns: readonly string[];
  readonly indexes: readonly string[];
  readonly constraints: readonly string[];
}

export interface SequenceInfo {
  readonly name: string;
  /** pg_sequences.last_value: absent when never used. */
  readonly lastValue?: bigint;
}

export interface SubscriptionInfo {
  readonly name: string;
  readonly enabled: boolean;
  /** Per table: i(nit), d(ata copy), f(inished copy), s(ynced), r(eady). */
  readonly tableStates: Readonly<Record<string, string>>;
  /** The apply worker's pid (running) and the source position it last confirmed. */
  readonly applyPid?: number;
  readonly latestEndLsn?: string;
  readonly applyErrors: number;
  readonly syncErrors: number;
  /** Initial copies in progress: table -> bytes processed so far. */
  readonly copying: Readonly<Record<string, number>>;
}

export interface SlotInfo {
  readonly name: string;
  readonly active: boolean;
  /** WAL the source keeps for it. */
  readonly retainedBytes: number;
  /** wal_status: reserved, extended, unreserved, lost. */
  readonly walStatus: string;
  /** Bytes that may still be written before it is lost (max_slot_wal_keep_size); absent: no limit. */
  readonly safeWalBytes?: number;
}

export interface SourceDatabase {
  readonly database: string;
  readonly tables: readonly TableInfo[];
  readonly schema: SchemaLines;
  readonly sequences: readonly SequenceInfo[];
  readonly largeObjects: number;
  readonly publication: boolean;
  /** Slots of this upgrade's subscriptions (the apply slot and the initial copy's). */
  readonly slots: readonly SlotInfo[];
}

export interface TargetDatabase {
  readonly database: string;
  readonly exists: boolean;
  readonly schema?: SchemaLines;
  readonly subscription?: SubscriptionInfo;
}

export interface UpgradeState {
  readonly source: {
    readonly node: string;
    readonly versionNum: number;
    readonly walLevel: string;
    readonly databases: readonly SourceDatabase[];
  };
  readonly target: {
    readonly node: string;
    readonly versionNum: number;
    readonly settings: Readonly<Record<string, string>>;
    readonly databases: readonly TargetDatabase[];
  };
}

export const PUBLICATION = 'pg_handover_upgrade';
/** One subscription (and so one slot on the source) per database. */
export const subscriptionName = (database: string): string =>
  `pg_handover_upgrade_${database.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
