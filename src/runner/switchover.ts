/**
 * The promote command's core: load → observe → decide → plan → (dry run: stop here) → confirm →
 * lock → run. No printing here; the CLI renders what this returns and emits.
 */
import { Connections } from '../cluster/connections.js';
import { observeCluster } from '../cluster/observe.js';
import type { ClusterState } from '../cluster/state.js';
import { dirname, resolve } from 'node:path';
import { fail, failures, warn, type Check } from '../decide/checks.js';
import { detectRecovery, type Recovery } from '../decide/recovery.js';
import { recoveryPlan } from '../playbook/recovery-plan.js';
import { findUnfinishedRun, type UnfinishedRun } from './unfinished.js';
import { BadInputError, PreflightRefusedError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/model.js';
import { loadPlaybook } from '../playbook/load.js';
import { buildPlan, decide, type Plan } from '../playbook/plan.js';
import type { Playbook } from '../playbook/schema.js';
import { newFacts } from '../steps/types.js';
import type { NodeSession } from '../postgres/session.js';
import type { Emit } from './events.js';
import { Journal, newRunId } from './journal.js';
import { lockOwnerName, tryLock, unlock } from '../postgres/run-lock.js';
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
  // Sessions holding the run lock; only these are unlocked (a reopened session holds nothing).
  const locked: NodeSession[] = [];
  try {
    const state = await observeCluster(connections);
    const unfinished = findUnfinishedRun(options.journalDir, inventory.file);
    const recovery = detectRecovery(state, unfinished);
    if (recovery) return await recover({ options, playbook, state, connections, runId, recovery, unfinished, started, locked });
    const { checks, plan } = planFrom(state, playbook, options.target);
    options.onDecision?.(checks, plan);
    const ready = failures(checks).length === 0 && plan !== undefined;
    if (options.dryRun) return { kind: 'dry-run', checks, plan, ready, elapsedMs: performance.now() - started };
    if (!ready || !plan) throw refusal(checks);
    if (!(await options.confirm(plan))) return { kind: 'declined', checks, plan };
    const journal = startJournal(options.journalDir, runId, plan, checks);
    await takeLock(connections, plan, state, locked);
    const report = await runPlan(plan, { connections, facts: newFacts(), journal, emit: options.emit, signal: options.signal });
    return { kind: 'ran', checks, plan, report };
  } finally {
    for (const session of locked) await unlock(session);
    await connections.close();
  }
}

function startJournal(dir: string, runId: string, plan: Plan, checks: readonly Check[], recovers?: string): Journal {
  const journal = new Journal(dir, runId);
  journal.write('run-start', {
    inventory: resolve(plan.context.inventory.file), playbook: plan.playbook, mode: plan.mode, recovers,
    primary: plan.context.primary.name, target: plan.context.target.name, fenceMethod: plan.context.fenceMethod,
    steps: plan.steps.map((s) => ({ id: s.id, title: s.title, actions: s.actions })),
  });
  journal.write('checks', { checks });
  return journal;
}

interface RecoverInput {
  readonly options: PromoteOptions;
  readonly playbook: Playbook;
  readonly state: ClusterState;
  readonly connections: Connections;
  readonly runId: string;
  readonly recovery: Recovery;
  readonly unfinished?: UnfinishedRun;
  readonly started: number;
  readonly locked: NodeSession[];
}

/** A previous run left the cluster half-way: finish it or undo its fence, never start a new one. */
async function recover(input: RecoverInput): Promise<PromoteResult> {
  const { options, recovery, state, connections } = input;
  const evidence = input.unfinished ? ` Journal: ${input.unfinished.file}.` : '';
  if (recovery.kind === 'stuck') {
    const check = fail('half-done-switchover', `${recovery.reason}.${evidence}`);
    options.onDecision?.([check], undefined);
    if (options.dryRun) return { kind: 'dry-run', checks: [check], ready: false, elapsedMs: performance.now() - input.started };
    throw refusal([check]);
  }
  const { plan, facts } = recoveryPlan(recovery, state, input.playbook);
  const action = recovery.kind === 'finish' ? `finish it: ${plan.context.target.name} stays the primary` : `undo it: ${plan.context.primary.name} stays the primary`;
  const checks = [warn('half-done-switchover', `${recovery.reason}; this run will ${action}.${evidence}`)];
  options.onDecision?.(checks, plan);
  if (options.dryRun) return { kind: 'dry-run', checks, plan, ready: true, elapsedMs: performance.now() - input.started };
  if (!(await options.confirm(plan))) return { kind: 'declined', checks, plan };
  const journal = startJournal(options.journalDir, input.runId, plan, checks, input.unfinished?.runId);
  await takeLock(connections, plan, state, input.locked);
  const report = await runPlan(plan, { connections, facts, journal, emit: options.emit, signal: new AbortController().signal, recovers: input.unfinished?.runId });
  if (input.unfinished && (report.exitCode === 0 || report.outcome === 'rolled-back')) {
    new Journal(dirname(input.unfinished.file), input.unfinished.runId).write('recovered-by', { runId: input.runId, outcome: report.outcome });
  }
  return { kind: 'ran', checks, plan, report };
}

function planFrom(state: ClusterState, playbook: Playbook, target: string | undefined): { checks: readonly Check[]; plan?: Plan } {
  const decision = decide(state, playbook, target);
  return { checks: decision.checks, plan: decision.context ? buildPlan(playbook, decision.context) : undefined };
}

function refusal(checks: readonly Check[]): PreflightRefusedError {
  const failed = failures(checks);
  return new PreflightRefusedError(`preflight refused: ${failed.map((c) => `${c.id}: ${c.message}`).join('; ') || 'no plan could be made'}`);
}

async function takeLock(connections: Connections, plan: Plan, state: ClusterState, locked: NodeSession[]): Promise<void> {
  const reachable = new Set(state.nodes.filter((n) => n.reachable).map((n) => n.name));
  for (const name of new Set([plan.context.primary.name, plan.context.target.name].filter((n) => reachable.has(n)))) {
    const session = await connections.node(name);
    if (await tryLock(session)) locked.push(session);
    else {
      const holder = (await observeCluster(connections)).lockHolder ?? state.lockHolder;
      throw new PreflightRefusedError(
        `another pg-handover run holds the cluster lock on ${name}${holder ? `: "${holder.applicationName}" (backend pid ${holder.pid})` : ''}`);
    }
  }
}
