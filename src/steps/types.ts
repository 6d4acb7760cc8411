/**
 * What every step kind provides: its parameters (a zod schema with defaults), its share of the
 * pause budget, and one list of actions from which both the dry-run text and the execution are
 * made. A step writes only its own typed output; later steps, the runner and the report read it.
 * Steps act only through StepContext, and never import each other.
 */
import type { z } from 'zod';
import type { Inventory, NodeSpec } from '../inventory/model.js';
import type { ClusterState } from '../model/cluster-state.js';
import type { Incident } from '../model/incident.js';
import type { NodeObservation } from '../model/node.js';
import type { HostRunner } from '../shell/host.js';
import type { FenceMethod } from './fence-modes.js';
import type { Outputs } from './outputs.js';
import type { ClusterPorts } from './ports.js';

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
  /**
   * A managed platform promotes the target (its promote hook): the tool has no shell and no
   * superuser, so it changes no server setting, and the old primary and the other replicas
   * cannot follow the new primary: they are left fenced, for the inventory's rebuild commands.
   */
  readonly managed?: boolean;
  /** A failover's findings: how the old primary failed, who confirms it, the possible loss. */
  readonly incident?: Incident;
  /** A rolling restart's: the binaries every server restarts on, their version, and the replicas still to restart. */
  readonly rolling?: RollingRestart;
  /** A major upgrade's (upgrade-major): `primary` is the publisher clients leave, `target` the subscriber they move to. */
  readonly upgrade?: LogicalCutover;
}

export interface LogicalCutover {
  /** 'forward': onto the new version; 'back': onto the old one (--back), through the reverse replication. */
  readonly direction: 'forward' | 'back';
  readonly databases: readonly string[];
  /** How each side's server logs in to the other (for the subscription it gets): host, user, passfile; never a password. */
  readonly conninfo: {
    readonly toPrimary: Readonly<Record<string, string>>;
    readonly toTarget: Readonly<Record<string, string>>;
  };
  /** Sequences of each database, to copy before clients move. */
  readonly sequences: Readonly<Record<string, readonly string[]>>;
}

export interface RollingRestart {
  /** --bin-dir; absent: each node's own bin directory (packages upgraded in place). */
  readonly binDir?: string;
  /** server_version_num every node must run at the end (what `postgres --version` of those binaries says). */
  readonly versionNum: number;
  /** Replicas not yet on it, in the order they restart (a rerun skips those already done). */
  readonly restart: readonly string[];
  /** The primary already runs it (a rerun after the switchover, or --all left nothing but replicas): no switchover. */
  readonly replicasOnly?: boolean;
}

/** `node` as it restarts in a rolling restart: on the new binaries. */
export const onNewBinaries = (plan: Pick<PlanContext, 'rolling'>, node: NodeSpec): NodeSpec =>
  plan.rolling?.binDir ? { ...node, binDir: plan.rolling.binDir } : node;

/** Lines for the report, written by any step: what was noticed, and what a person must still do. */
export interface RunLog {
  readonly notes: string[];
  readonly leftToDo: string[];
  /** Nodes that did not end as the run meant (a replica that did not follow in time): the outcome is "degraded", not a failure. */
  readonly degraded: string[];
}

/** The point of no return, as the run crosses it: requested (no undo from here), then confirmed. */
export interface NoReturn {
  requested: boolean;
  confirmed: boolean;
}

export interface StepContext extends PlanContext {
  /** SQL on the nodes, the routers, a fresh writability probe: the ports every effect goes through. */
  readonly connections: ClusterPorts;
  /** Every step's output so far; a step changes only its own (passed to it as `out`). */
  readonly outputs: Readonly<Outputs>;
  readonly noReturn: NoReturn;
  readonly log: RunLog;
  readonly signal: AbortSignal;
  readonly runId: string;
  readonly applicationName: string;
  host(node: NodeSpec): HostRunner | undefined;
  record(event: string, data?: Record<string, unknown>): void;
}

/** One line of the dry run and, when it does something, the doing of exactly that. */
export interface Action<O = unknown> {
  readonly text: string;
  /** Actions of one group run in order; a step may run its groups in parallel (one per replica, say). */
  readonly group?: string;
  /**
   * This action crosses the point of no return. The runner, not the step, marks it: just before
   * the action runs it sets noReturn.requested and journals 'point-of-no-return' with this data.
   */
  readonly noReturn?: (ctx: StepContext, out: O) => Record<string, unknown>;
  /** Absent for lines that only explain (e.g. a replica not waited for). May return a summary. */
  readonly run?: (ctx: StepContext, out: O) => Promise<string | void>;
}

type KindOf<S extends z.ZodObject> = z.output<S> extends { kind: infer K extends string } ? K : never;
/** The output a step kind writes (an empty record for steps that record nothing). */
export type OutputOf<S extends z.ZodObject> =
  KindOf<S> extends keyof Outputs ? Outputs[KindOf<S>] : Record<string, never>;

export interface StepDefinition<S extends z.ZodObject = z.ZodObject, O = OutputOf<S>> {
  /** Its parameters and their defaults; the playbook schema is assembled from these. */
  readonly schema: S;
  /** The output it writes, when that is another kind's (unfence writes fence-writes'). */
  readonly outputOf?: keyof Outputs;
  /** Once this step starts there is no undo: later steps run forward whatever happens. */
  readonly pointOfNoReturn?: true;
  /** Its share of the worst-case pause, when it runs while clients are held. */
  pauseBudget?(step: z.output<S>): number;
  title(step: z.output<S>, plan: PlanContext): string;
  /** The exact SQL, router and shell operations, in order; the dry run shows their text. */
  actions(step: z.output<S>, plan: PlanContext): Action<O>[];
  /** Does the work from `actions` (and only that); returns a one-line summary. Default: each in order. */
  run?(step: z.output<S>, ctx: StepContext, out: O, actions: readonly Action<O>[]): Promise<string>;
  /** Undoes the work (only steps before the point of no return). */
  undo?(step: z.output<S>, ctx: StepContext, out: O): Promise<string>;
}

/** Runs one action (a line that only explains resolves at once). */
export const perform = <O>(action: Action<O>, ctx: StepContext, out: O): Promise<string | void> =>
  action.run ? action.run(ctx, out) : Promise.resolve();

/** Runs `actions` in order; the summary is the last one any action returned. */
export async function performInOrder<O>(actions: readonly Action<O>[], ctx: StepContext, out: O): Promise<string> {
  let summary = '';
  for (const action of actions) {
    const said = await action.run?.(ctx, out);
    if (said) summary = said;
  }
  return summary;
}

/** Runs each group's actions in order, the groups in parallel; one settled result per group. */
export async function performGroups<O>(
  actions: readonly Action<O>[],
  ctx: StepContext,
  out: O,
): Promise<Map<string, PromiseSettledResult<string>>> {
  const groups = new Map<string, Action<O>[]>();
  for (const action of actions) groups.set(action.group ?? '', [...(groups.get(action.group ?? '') ?? []), action]);
  const names = [...groups.keys()];
  const settled = await Promise.allSettled(names.map((name) => performInOrder(groups.get(name)!, ctx, out)));
  return new Map(names.map((name, i) => [name, settled[i]!]));
}

export const sqlText = (node: string, sql: string): string => `[${node}] SQL: ${sql.replace(/\s+/g, ' ').trim()}`;
export const shellText = (node: string, argv: readonly string[]): string => `[${node}] shell: ${argv.join(' ')}`;
