/**
 * The promote command's core: load → observe → decide → plan → (dry run: stop here) → confirm →
 * lock → run. No printing here; the CLI renders what this returns and emits.
 */
import { Connections } from '../cluster/connections.js';
import { observeCluster } from '../cluster/observe.js';
import type { ClusterState } from '../cluster/state.js';
import { failures, type Check } from '../decide/checks.js';
import { BadInputError, PreflightRefusedError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/model.js';
import { loadPlaybook } from '../playbook/load.js';
import { buildPlan, decide, type Plan } from '../playbook/plan.js';
import type { Playbook } from '../playbook/schema.js';
import { newFacts } from '../steps/types.js';
import type { Emit } from './events.js';
import { Journal, newRunId } from './journal.js';
import { lockOwnerName, tryLock, unlock } from './lock.js';
import type { Report } from './report.js';
import { runPlan } from './run.js';

export interface PromoteOptions {
  readonly inventoryFile: string;
  readonly playbookFile?: string;
  readonly target?: string;
  readonly dryRun: boolean;
  readonly journalDir: string;
  readonly signal: AbortSignal;
  readonly emit: Emit;
  /** Asked once the plan is known; false means stop without changing anything. */
  readonly confirm: (plan: Plan) => Promise<boolean>;
  readonly onDecision?: (checks: readonly Check[], plan: Plan | undefined) => void;
}

export type PromoteResult =
  | { readonly kind: 'dry-run'; readonly checks: readonly Check[]; readonly plan?: Plan; readonly ready: boolean; readonly elapsedMs: number }
  | { readonly kind: 'declined'; readonly checks: readonly Check[]; readonly plan: Plan }
  | { readonly kind: 'ran'; readonly checks: readonly Check[]; readonly plan: Plan; readonly report: Report };

export interface LoadedInput {
  readonly inventory: Inventory;
  readonly playbook: Playbook;
}

/** Everything that can be checked without contacting a server; throws BadInputError. */
export async function loadInput(options: Pick<PromoteOptions, 'inventoryFile' | 'playbookFile' | 'target'>): Promise<LoadedInput> {
  const inventory = await loadInventory(options.inventoryFile);
  const names = inventory.nodes.map((n) => n.name);
  const playbook = await loadPlaybook(options.playbookFile, names);
  if (options.target !== undefined && !names.includes(options.target)) {
    throw new BadInputError(`--target: unknown node "${options.target}"; expected one of ${names.join(', ')}`, 'target');
  }
  return { inventory, playbook };
}

export async function promote(options: PromoteOptions): Promise<PromoteResult> {
  const started = performance.now();
  const { inventory, playbook } = await loadInput(options);
  const runId = newRunId();
  const connections = await Connections.open(inventory, lockOwnerName(runId));
  try {
    const state = await observeCluster(connections);
    const { checks, plan } = planFrom(state, playbook, options.target);
    options.onDecision?.(checks, plan);
    const ready = failures(checks).length === 0 && plan !== undefined;
    if (options.dryRun) return { kind: 'dry-run', checks, plan, ready, elapsedMs: performance.now() - started };
    if (!ready || !plan) throw refusal(checks);
    if (!(await options.confirm(plan))) return { kind: 'declined', checks, plan };
    const journal = new Journal(options.journalDir, runId);
    journal.write('run-start', {
      inventory: inventory.file, playbook: playbook.name, primary: plan.context.primary.name, target: plan.context.target.name,
      fenceMethod: plan.context.fenceMethod, steps: plan.steps.map((s) => ({ id: s.id, title: s.title, actions: s.actions })),
    });
    journal.write('checks', { checks });
    await takeLock(connections, plan, state);
    const report = await runPlan(plan, { connections, facts: newFacts(), journal, emit: options.emit, signal: options.signal });
    return { kind: 'ran', checks, plan, report };
  } finally {
    for (const session of connections.nodes.values()) if (!(session instanceof Error)) await unlock(session);
    await connections.close();
  }
}

function planFrom(state: ClusterState, playbook: Playbook, target: string | undefined): { checks: readonly Check[]; plan?: Plan } {
  const decision = decide(state, playbook, target);
  return { checks: decision.checks, plan: decision.context ? buildPlan(playbook, decision.context) : undefined };
}

function refusal(checks: readonly Check[]): PreflightRefusedError {
  const failed = failures(checks);
  return new PreflightRefusedError(`preflight refused: ${failed.map((c) => `${c.id}: ${c.message}`).join('; ') || 'no plan could be made'}`);
}

async function takeLock(connections: Connections, plan: Plan, state: ClusterState): Promise<void> {
  for (const name of [plan.context.primary.name, plan.context.target.name]) {
    const session = await connections.node(name);
    if (!(await tryLock(session))) {
      const holder = (await observeCluster(connections)).lockHolder ?? state.lockHolder;
      throw new PreflightRefusedError(
        `another pg-handover run holds the cluster lock on ${name}${holder ? `: "${holder.applicationName}" (backend pid ${holder.pid})` : ''}`);
    }
  }
}
