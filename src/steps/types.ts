/**
 * What every step kind provides: how it describes itself for a dry run, what it does, and for
 * steps before the point of no return, how it is undone. Steps act only through StepContext.
 */
import type { ClusterState } from '../model/cluster-state.js';
import type { Connections } from '../cluster/connections.js';
import type { Inventory, NodeSpec } from '../inventory/model.js';
import type { StepKind, StepOf } from '../playbook/schema.js';
import type { Lsn } from '../model/lsn.js';
import type { NodeObservation } from '../model/node.js';
import type { HostRunner } from '../shell/host.js';

export type FenceMethod = 'clean-stop' | 'read-only';

/** Everything a plan is built from; pure data. */
export interface PlanContext {
  readonly inventory: Inventory;
  readonly state: ClusterState;
  readonly primary: NodeSpec;
  readonly target: NodeSpec;
  /** Other reachable nodes, to follow the new primary. */
  readonly siblings: readonly NodeSpec[];
  /**
   * Siblings the run waits for (streaming, replaying without delay), decided up front. The rest
   * (a delayed replica, a paused one, one not streaming now) are repointed but not waited for,
   * and reported as "to check".
   */
  readonly waitFor: readonly string[];
  readonly toCheck: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
  /** Nodes that could not be reached when the plan was made; reported, not touched. */
  readonly unreachable: readonly string[];
  /** The old primary as observed (absent when it was already stopped, e.g. when finishing a half-done run). */
  readonly primaryObs?: NodeObservation;
  /** The target as observed before promotion (absent when finishing a half-done run). */
  readonly targetObs?: NodeObservation;
  /** How replicas connect upstream: a replica's primary_conninfo to copy, and whether slots are used. */
  readonly replication: { readonly conninfo: string; readonly usesSlots: boolean };
  readonly fenceMethod: FenceMethod;
}

/** What the run has learned and done so far; the report and the rollback read it. */
export interface Facts {
  fencedAt?: number;
  resumedAt?: number;
  pausedPoolers: Set<string>;
  /** A fast shutdown of the old primary was requested (its postmaster may still be exiting). */
  stopRequested: boolean;
  /** The old primary can no longer write: its shutdown checkpoint is written (postmaster exited or exiting). */
  oldPrimaryStopped: boolean;
  readOnlyApplied: boolean;
  postmasterPid?: number;
  finalLsn?: Lsn;
  finalLsnSource?: string;
  targetReplayLsn?: Lsn;
  promoteRequested: boolean;
  promoted: boolean;
  oldTimeline?: number;
  newTimeline?: number;
  repointed: Set<string>;
  oldPrimaryRole?: string;
  followers: Record<string, string>;
  notes: string[];
  leftToDo: string[];
}

export const newFacts = (): Facts => ({
  pausedPoolers: new Set(), stopRequested: false, oldPrimaryStopped: false, readOnlyApplied: false,
  promoteRequested: false, promoted: false, repointed: new Set(), followers: {}, notes: [], leftToDo: [],
});

export interface StepContext extends PlanContext {
  readonly connections: Connections;
  readonly facts: Facts;
  readonly signal: AbortSignal;
  readonly runId: string;
  readonly applicationName: string;
  host(node: NodeSpec): HostRunner | undefined;
  record(event: string, data?: Record<string, unknown>): void;
}

export interface StepDefinition<K extends StepKind> {
  readonly kind: K;
  readonly title: (step: StepOf<K>, plan: PlanContext) => string;
  /** The exact SQL, admin-console and shell commands, for the dry run. */
  describe(step: StepOf<K>, plan: PlanContext): string[];
  /** Does the work; returns a one-line summary. */
  run(step: StepOf<K>, ctx: StepContext): Promise<string>;
  /** Undoes the work (only steps before promotion). */
  undo?(step: StepOf<K>, ctx: StepContext): Promise<string>;
}

export const sqlAction = (node: string, sql: string): string => `[${node}] SQL: ${sql.replace(/\s+/g, ' ').trim()}`;
export const adminAction = (pooler: string, command: string): string => `[${pooler}] admin: ${command}`;
export const shellAction = (node: string, argv: readonly string[]): string => `[${node}] shell: ${argv.join(' ')}`;
