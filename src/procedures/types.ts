/**
 * A procedure (switchover, failover, rolling restart, …): how it decides, the ordering rules of
 * its playbooks, its default playbook, how it recognises and plans a half-done run of itself, and
 * what it says in the report. runner/run-procedure.ts runs any of them the same way.
 */
import type { RouterChecks } from '../decide/preflight.js';
import type { Inventory } from '../inventory/model.js';
import type { ClusterState } from '../model/cluster-state.js';
import type { LastSeen } from '../model/incident.js';
import type { UnfinishedRun } from '../model/unfinished-run.js';
import type { Decision, Plan } from '../playbook/plan.js';
import type { PlaybookRules } from '../playbook/rules.js';
import type { Playbook } from '../playbook/schema.js';
import type { Report, ReportSection } from '../runner/report.js';
import type { Outputs } from '../steps/outputs.js';
import type { NoReturn, PlanContext, StepContext } from '../steps/types.js';

/** What a half-done run needs: finish it, undo it, or a person (`stuck`). */
export type HalfDone =
  | {
      readonly kind: 'finish' | 'undo';
      readonly reason: string;
      readonly plan: Plan;
      readonly outputs: Outputs;
      readonly noReturn: NoReturn;
    }
  | { readonly kind: 'stuck'; readonly reason: string };

/** A flag only one procedure has, declared in its folder's options.ts (the CLI registers it). */
export interface ProcedureFlag {
  readonly flags: string;
  readonly description: string;
}

/** Its own flags, and how the CLI's parsed values become its own options type. */
export interface ProcedureOptionsSpec<O> {
  readonly flags: readonly ProcedureFlag[];
  parse(raw: Readonly<Record<string, unknown>>): O;
}

/** What a procedure needs observed beyond the cluster's snapshot. */
export interface ObserveNeeds {
  /** Also ask each host `postgres --version` of these binaries (a rolling restart's --bin-dir). */
  readonly binDir?: string;
  /** Also observe a major upgrade's logical replication (ClusterState.upgrade), in this direction. */
  readonly upgrade?: 'forward' | 'back';
}

/**
 * `O`: the procedure's own options (its flags, parsed by its options.ts); a procedure without
 * flags of its own keeps the default.
 */
export interface Procedure<O = Readonly<Record<string, never>>> {
  readonly name: string;
  /** Its built-in playbook, playbooks/<name>.yaml. */
  readonly defaultPlaybook: string;
  readonly rules: PlaybookRules;
  /** Pure: the checks, and the context to plan from when they allow it. */
  decide(state: ClusterState, playbook: Playbook, input: DecideInput<O>): Decision;
  /** Its own flags (absent: none). */
  readonly options?: ProcedureOptionsSpec<O>;
  /**
   * How the cluster is observed: a failover probes every node once, within its detection timeout
   * (default: the DSN's connect_timeout or 2 s, three attempts, 10 s per query).
   */
  observeLimits?(playbook: Playbook): {
    readonly timeoutMs: number;
    readonly attempts: number;
    readonly witnessMs?: number;
  };
  /** A run of this procedure left half-way, recognised from the cluster (and its journal, if any). Pure. */
  halfDone(state: ClusterState, playbook: Playbook, unfinished?: UnfinishedRun): HalfDone | undefined;
  /** Left to do when the point of no return was requested but not confirmed. */
  unconfirmed(ctx: StepContext): string[];
  /** The confirmation question before anything changes. */
  question(plan: Plan): string;
  /** Its own lines in the report (procedures/<name>/report.ts). */
  reportSection?(context: PlanContext, outputs: Outputs, noReturn: NoReturn): ReportSection;
  /** The report's headline. */
  headline(report: Report): string;
  /** Lines added to the report's "left to do" (e.g. the next command). */
  afterwards?(report: Report): string[];
  /** The inventory the run acts on, from the file's (upgrade-major: the target's nodes too); throws BadInputError. */
  inventoryForRun?(inventory: Inventory): Inventory;
  /** What to observe beyond the snapshot, from its options. */
  observeNeeds?(options: O | undefined): ObserveNeeds;
}

/** Any procedure, whatever its options (the catalog, the runner and the CLI hold them so). */
export type AnyProcedure = Procedure<unknown>;

/** What every procedure decides from besides the snapshot; `options` are its own (parsed flags). */
export interface DecideInput<O = Readonly<Record<string, never>>> {
  readonly target?: string;
  readonly routerChecks: RouterChecks;
  /** The last observation of a writable primary (runner/last-seen.ts), for a failover. */
  readonly lastSeen?: LastSeen;
  /** Its own options; absent when a caller decides without flags (check, a half-done run): the defaults. */
  readonly options?: O;
}
