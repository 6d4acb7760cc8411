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
import type { Report } from '../runner/report.js';
import type { Outputs } from '../steps/outputs.js';
import type { NoReturn, StepContext } from '../steps/types.js';

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

export interface Procedure {
  readonly name: string;
  /** Its built-in playbook, playbooks/<name>.yaml. */
  readonly defaultPlaybook: string;
  readonly rules: PlaybookRules;
  /** Pure: the checks, and the context to plan from when they allow it. */
  decide(state: ClusterState, playbook: Playbook, input: DecideInput): Decision;
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
  /** The report's headline. */
  headline(report: Report): string;
  /** Lines added to the report's "left to do" (e.g. the next command). */
  afterwards?(report: Report): string[];
  /** The inventory the run acts on, from the file's (upgrade-major: the target's nodes too); throws BadInputError. */
  inventoryForRun?(inventory: Inventory): Inventory;
  /** Also observe a major upgrade's logical replication (ClusterState.upgrade), in this direction. */
  observesUpgrade?(input: DecideInput): 'forward' | 'back';
}

export interface DecideInput {
  readonly target?: string;
  readonly routerChecks: RouterChecks;
  /** The last observation of a writable primary (runner/last-seen.ts), for a failover. */
  readonly lastSeen?: LastSeen;
  /** --accept-data-loss: a failover proceeds beyond its loss limit (said as a warning). */
  readonly acceptDataLoss?: boolean;
  /** --bin-dir: a rolling restart's new binaries (default: each node's own bin directory). */
  readonly binDir?: string;
  /** rolling-restart --all: restart every server even on the version it runs (an OS patch). */
  readonly all?: boolean;
  /** --back: upgrade-major's way back to the old version. */
  readonly back?: boolean;
}
