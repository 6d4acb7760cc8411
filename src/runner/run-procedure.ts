/**
 * One run path for every procedure: load → observe → detect a half-done run → decide → plan →
 * (dry run: stop here) → confirm → lock → guardian → run → report. No printing here; the CLI
 * renders what this returns and emits.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { builtInPlaybook } from '../util/package-root.js';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Connections } from '../cluster/connections.js';
import { observeCluster } from '../cluster/observe.js';
import { observeUpgrade } from '../cluster/upgrade-observe.js';
import { fail, failures, pass, warn, type Check } from '../decide/checks.js';
import { identityChecks } from '../decide/identity.js';
import { BadInputError, PreflightRefusedError } from '../errors.js';
import { exitCodeOfOutcome } from '../exit-codes.js';
import { loadInventory } from '../inventory/load.js';
import { pathsOf, withDiscovered } from '../inventory/discovered.js';
import type { Inventory } from '../inventory/model.js';
import type { ClusterState } from '../model/cluster-state.js';
import type { UnfinishedRun } from '../model/unfinished-run.js';
import { loadPlaybook } from '../playbook/load.js';
import { buildPlan, type Plan } from '../playbook/plan.js';
import type { Playbook } from '../playbook/schema.js';
import type { AnyProcedure, DecideInput, HalfDone } from '../procedures/types.js';
import { routerChecks } from '../routers/registry.js';
import { newOutputs } from '../steps/outputs.js';
import { lockOwnerName, unlock } from '../postgres/run-lock.js';
import { takeLock } from './cluster-lock.js';
import type { NodeSql } from '../steps/ports.js';
import { isAlive } from '../shell/processes.js';
import { ensureDir } from '../util/fs.js';
import type { Emit } from './events.js';
import { startGuardian, type Guardian, type GuardianOrders } from './guardian.js';
import { Journal, journalFileFor, newRunId } from './journal.js';
import { acquire, liveOwner, lockFileFor, release, update } from './local-lock.js';
import type { Report } from './report.js';
import { readLastSeen, recordLastSeen } from './last-seen.js';
import { closeIfGoalMet, nodeNamed } from './goal-met-close.js';
import { takeFleetSlot, type FleetSlot } from './fleet-lock.js';
import { connFromDsn } from '../inventory/load.js';
import { runPlan } from './run.js';
import { findUnfinishedRun } from './unfinished.js';

export interface ProcedureOptions {
  readonly procedure: AnyProcedure;
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
  /** Only finish or undo a half-done run (the guardian); never start a new one. */
  readonly onlyRecover?: boolean;
  /** The procedure's own flags as the CLI parsed them; its options.ts makes its options of them. */
  readonly flags?: Readonly<Record<string, unknown>>;
  /** --fleet-lock DSN and --fleet-slots N: at most N runs at once across the fleet. */
  readonly fleetLock?: { readonly dsn: string; readonly slots: number };
}

export type ProcedureResult =
  | {
      readonly kind: 'dry-run';
      readonly checks: readonly Check[];
      readonly plan?: Plan;
      readonly ready: boolean;
      readonly elapsedMs: number;
    }
  | { readonly kind: 'declined'; readonly checks: readonly Check[]; readonly plan: Plan }
  | { readonly kind: 'nothing-to-recover' }
  | { readonly kind: 'nothing-to-do'; readonly checks: readonly Check[]; readonly message: string }
  | { readonly kind: 'ran'; readonly checks: readonly Check[]; readonly plan: Plan; readonly report: Report };

export interface LoadedInput {
  readonly inventory: Inventory;
  readonly playbook: Playbook;
}

/** Everything that can be checked without contacting a server; throws BadInputError. */
export async function loadInput(
  options: Pick<ProcedureOptions, 'procedure' | 'inventoryFile' | 'playbookFile' | 'target'>,
): Promise<LoadedInput> {
  const loaded = await loadInventory(options.inventoryFile);
  const inventory = options.procedure.inventoryForRun ? options.procedure.inventoryForRun(loaded) : loaded;
  const names = inventory.nodes.map((n) => n.name);
  const playbook = await loadPlaybook(
    playbookPath(options.playbookFile) ?? options.procedure.defaultPlaybook,
    options.procedure.rules,
    names,
  );
  if (options.target !== undefined && !names.includes(options.target)) {
    throw new BadInputError(
      `--target: unknown node "${options.target}"; expected one of ${names.join(', ')}`,
      'target',
    );
  }
  return { inventory, playbook };
}

export async function runProcedure(options: ProcedureOptions): Promise<ProcedureResult> {
  const started = performance.now();
  const { inventory, playbook } = await loadInput(options);
  const runId = newRunId();
  const lockFile = lockFileFor(options.journalDir, inventory.file);
  const journalCheck = journalDirCheck(options.journalDir);
  const limits = options.procedure.observeLimits?.(playbook);
  // The procedure's own options, from its own flags (procedures/<name>/options.ts).
  const own = options.procedure.options?.parse(options.flags ?? {});
  const needs = options.procedure.observeNeeds?.(own) ?? {};
  // A run that may change something starts its guardian now, while the cluster is observed (its
  // start-up is a node process: ~150 ms off a failover's critical path); dismissed if unused. It
  // does nothing if the tool dies before the run starts (no journal yet).
  const early = options.dryRun
    ? undefined
    : startGuardian(guardianOrders(options, runId)).catch((error: Error) => error);
  const probeStarted = performance.now();
  const connections = await Connections.open(inventory, lockOwnerName(runId), {
    connectTimeoutMs: limits?.timeoutMs,
    attempts: limits?.attempts,
    witnessMs: limits?.witnessMs,
  });
  // Sessions holding the run lock; only these are unlocked (a reopened session holds nothing).
  const locked: NodeSql[] = [];
  let guardian: Guardian | undefined;
  let fleet: FleetSlot | undefined;
  try {
    // A failover's observation (limits) skips the binaries: its first second counts.
    const observed = await observeCluster(connections, {
      queryTimeoutMs: limits?.timeoutMs,
      startedAt: probeStarted,
      binDir: needs.binDir,
      binaries: !limits,
    });
    const direction = needs.upgrade;
    const state: ClusterState = direction
      ? { ...observed, upgrade: (await observeUpgrade(inventory, direction)).state }
      : observed;
    const lastSeen = readLastSeen(options.journalDir, inventory.file);
    recordLastSeen(options.journalDir, inventory.file, state);
    // A live run's half-way state is not a half-done run: never touch it.
    const busy = otherRun(state, lockFile);
    if (busy) return refuseOrReport(options, [busy, journalCheck], started);
    // Each node known by identity before anything reads roles from the snapshot: another
    // cluster's primary is not a split brain, one server listed twice is not a replica.
    const identity = failures(identityChecks(state));
    if (identity.length) return refuseOrReport(options, [...identity, journalCheck], started);
    let unfinished = findUnfinishedRun(options.journalDir, inventory.file);
    const closed: Check[] = [];
    if (unfinished && !unfinished.alive && !options.dryRun) {
      const asked = { procedure: options.procedure.name, target: options.target };
      const ending = await closeIfGoalMet(asked, unfinished, state, connections, limits?.timeoutMs, runId);
      if (ending.check) closed.push(ending.check);
      if (ending.result) {
        options.onDecision?.(closed, undefined);
        return ending.result;
      }
      if (ending.closed) unfinished = undefined;
    }
    if (unfinished?.procedure === 'rejoin' && options.procedure.name !== 'rejoin' && !unfinished.alive) {
      // A rejoin that stopped half-way touched one node, which is stopped or not streaming: it
      // never blocks a switchover or a failover (an incident must not wait on a replica's repair).
      // Its record stays for the next `rejoin`, which finishes it or closes it once the node streams.
      closed.push(
        warn(
          'rejoin-unfinished',
          `run ${unfinished.runId} of the rejoin procedure (${unfinished.primary}) did not finish (${unfinished.file}): ${unfinished.primary} is left out; run \`pg-handover rejoin ${unfinished.primary}\` again (or re-clone it) afterwards`,
        ),
      );
      unfinished = undefined;
    }
    // An incident does not wait on a planned run's record: a failover supersedes an unfinished
    // switchover (or rolling restart) once its own checks pass, and closes that record when it ran.
    let superseded: typeof unfinished;
    if (
      unfinished &&
      options.procedure.name === 'failover' &&
      unfinished.procedure !== 'failover' &&
      !unfinished.alive
    ) {
      closed.push(
        warn(
          'other-run-superseded',
          `run ${unfinished.runId} of the ${unfinished.procedure} procedure did not finish (${unfinished.file}): the failover goes by what it observes now, and closes that record once it has run`,
        ),
      );
      superseded = unfinished;
      unfinished = undefined;
    }
    if (unfinished && unfinished.procedure !== options.procedure.name && !unfinished.alive) {
      const check = fail(
        'no-other-run',
        `run ${unfinished.runId} of the ${unfinished.procedure} procedure did not finish (${unfinished.file}): run \`pg-handover ${unfinished.procedure}\` again to finish or undo it first`,
      );
      return refuseOrReport(options, [check, journalCheck], started);
    }
    const halfDone = options.procedure.halfDone(
      unfinished ? { ...state, inventory: withDiscovered(state.inventory, unfinished.paths) } : state,
      playbook,
      unfinished,
    );
    const session: Session = {
      options,
      playbook,
      state,
      connections,
      runId,
      lockFile,
      locked,
      started,
      journalCheck,
      early,
      setGuardian: (g) => (guardian = g),
    };
    if (halfDone) return await recover({ ...session, halfDone, unfinished, before: closed });
    if (options.onlyRecover) return { kind: 'nothing-to-recover' };
    const {
      checks: decided,
      plan,
      done,
    } = planFrom(options.procedure, state, playbook, {
      target: options.target,
      routerChecks,
      lastSeen,
      options: own,
    });
    const checks = [...closed, ...decided, journalCheck];
    if (done && failures(checks).length === 0) {
      options.onDecision?.(checks, undefined);
      return { kind: 'nothing-to-do', checks, message: done };
    }
    options.onDecision?.(checks, plan);
    const ready = failures(checks).length === 0 && plan !== undefined;
    if (options.dryRun) return { kind: 'dry-run', checks, plan, ready, elapsedMs: performance.now() - started };
    if (!ready || !plan) throw refusal(checks);
    if (!(await options.confirm(plan))) return { kind: 'declined', checks, plan };
    // The fleet's slot before anything changes; freed with the run (or its session, if it dies).
    if (options.fleetLock)
      fleet = await takeFleetSlot(
        await connFromDsn(options.fleetLock.dsn, '--fleet-lock', inventory.passfile),
        options.fleetLock.slots,
        connections.applicationName,
      );
    const journal = await begin(session, plan, checks);
    const report = await runPlan(plan, {
      connections,
      outputs: newOutputs(),
      journal,
      emit: options.emit,
      signal: options.signal,
      unconfirmed: (ctx) => options.procedure.unconfirmed(ctx),
      reportSection: (...args) => options.procedure.reportSection?.(...args) ?? {},
    });
    await recordAfterRun(options.journalDir, inventory.file, connections, report);
    if (superseded)
      new Journal(dirname(superseded.file), superseded.runId).write('recovered-by', {
        runId,
        outcome: 'superseded',
        reason: `the failover ${runId} ran (${report.outcome}) from what it observed`,
      });
    return { kind: 'ran', checks, plan, report: withAfterwards(options.procedure, report) };
  } finally {
    guardian?.dismiss();
    const unused = await early;
    if (unused && !(unused instanceof Error) && unused !== guardian) unused.dismiss();
    for (const session of locked) await unlock(session);
    release(lockFile, runId);
    await fleet?.release();
    await connections.close();
  }
}

interface Session {
  readonly options: ProcedureOptions;
  readonly playbook: Playbook;
  readonly state: ClusterState;
  readonly connections: Connections;
  readonly runId: string;
  readonly lockFile: string;
  readonly locked: NodeSql[];
  readonly started: number;
  readonly journalCheck: Check;
  /** The guardian started with the run (absent for a dry run), or why it could not start. */
  readonly early?: Promise<Guardian | Error>;
  readonly setGuardian: (guardian: Guardian) => void;
}

const guardianOrders = (options: ProcedureOptions, runId: string): GuardianOrders => ({
  toolPid: process.pid,
  journalFile: journalFileFor(options.journalDir, runId),
  journalDir: resolve(options.journalDir),
  procedure: options.procedure.name,
  inventoryFile: resolve(options.inventoryFile),
  playbookFile: options.playbookFile && resolve(options.playbookFile),
  flags: ownFlags(options),
});

/** Only the flags the procedure declares go to the guardian (never --fleet-lock's DSN). */
function ownFlags(options: ProcedureOptions): Record<string, unknown> {
  const names = (options.procedure.options?.flags ?? []).map((f) =>
    (/--([a-z-]+)/.exec(f.flags)?.[1] ?? '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()),
  );
  return Object.fromEntries(names.filter((n) => options.flags?.[n] !== undefined).map((n) => [n, options.flags![n]]));
}

/** Another run, here or elsewhere, that is still alive: its lock on a node, or this machine's lock file. */
function otherRun(state: ClusterState, lockFile: string): Check | undefined {
  if (state.lockHolder) {
    const holder = state.lockHolder;
    return fail(
      'no-other-run',
      `another pg-handover run holds the cluster lock: "${holder.applicationName}" (backend pid ${holder.pid}, since ${holder.since})`,
    );
  }
  const owner = liveOwner(lockFile);
  if (owner) {
    const who =
      owner.guardianPid !== undefined && !isAlive(owner.pid)
        ? `its guardian (pid ${owner.guardianPid}) is finishing or undoing it`
        : `pid ${owner.pid}`;
    return fail(
      'no-other-run',
      `another pg-handover run (${owner.runId}) is still running against this inventory on this machine: ${who}`,
    );
  }
  return undefined;
}

function refuseOrReport(options: ProcedureOptions, checks: readonly Check[], started: number): ProcedureResult {
  options.onDecision?.(checks, undefined);
  if (options.dryRun) return { kind: 'dry-run', checks, ready: false, elapsedMs: performance.now() - started };
  throw refusal(checks);
}

/** The journal directory must be writable before anything is changed: the run and its guardian depend on it. */
function journalDirCheck(dir: string): Check {
  try {
    ensureDir(dir);
    accessSync(resolve(dir), constants.W_OK);
    return pass('journal-dir', `journal directory ${resolve(dir)} is writable`);
  } catch (error) {
    return fail(
      'journal-dir',
      `journal directory ${resolve(dir)} cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); choose another with --journal-dir`,
    );
  }
}

/** Takes this machine's lock and the cluster's, opens the journal and starts the guardian: all before the fence. */
async function begin(session: Session, plan: Plan, checks: readonly Check[], recovers?: string): Promise<Journal> {
  const { options, runId } = session;
  const owner = acquire(session.lockFile, { runId, pid: process.pid });
  if (owner)
    throw new PreflightRefusedError(
      `no-other-run: another pg-handover run (${owner.runId}, pid ${owner.pid}) is running against this inventory on this machine`,
    );
  await takeLock(session.connections, session.state, session.locked);
  const journal = startJournal(options.journalDir, runId, options.procedure.name, plan, checks, recovers);
  const early = await session.early;
  const guardian = early && !(early instanceof Error) ? early : await startGuardian(guardianOrders(options, runId));
  session.setGuardian(guardian);
  update(session.lockFile, { runId, pid: process.pid, guardianPid: guardian.pid });
  journal.write('guardian-started', { pid: guardian.pid });
  return journal;
}

function startJournal(
  dir: string,
  runId: string,
  procedure: string,
  plan: Plan,
  checks: readonly Check[],
  recovers?: string,
): Journal {
  const journal = new Journal(dir, runId);
  journal.write('run-start', {
    inventory: resolve(plan.context.inventory.file),
    playbook: plan.playbook,
    procedure,
    mode: plan.mode,
    recovers,
    pid: process.pid,
    host: hostname(),
    primary: plan.context.primary.name,
    target: plan.context.target.name,
    fenceMethod: plan.context.fenceMethod,
    // Discovered paths: a later run that finds a node down still knows where it lives.
    paths: pathsOf(plan.context.inventory),
    steps: plan.steps.map((s) => ({ id: s.id, title: s.title, actions: s.actions })),
  });
  journal.write('checks', { checks });
  return journal;
}

interface RecoverInput extends Session {
  readonly halfDone: HalfDone;
  readonly unfinished?: UnfinishedRun;
  /** What the run already said about other records (closed, superseded, refused clients). */
  readonly before: readonly Check[];
}

/** A previous run left the cluster half-way: finish it or undo its fence, never start a new one. */
async function recover(input: RecoverInput): Promise<ProcedureResult> {
  const { options, halfDone, connections } = input;
  if (!options.dryRun && input.journalCheck.verdict === 'fail')
    return refuseOrReport(options, [input.journalCheck], input.started);
  if (input.unfinished?.alive) {
    const check = fail(
      'no-other-run',
      `run ${input.unfinished.runId} (pid ${input.unfinished.pid}) is still alive on this machine: it is not half-done, it is running`,
    );
    return refuseOrReport(options, [check], input.started);
  }
  const evidence = input.unfinished ? ` Journal: ${input.unfinished.file}.` : '';
  if (halfDone.kind === 'stuck') {
    const checks = [...input.before, fail(`half-done-${options.procedure.name}`, `${halfDone.reason}.${evidence}`)];
    options.onDecision?.(checks, undefined);
    if (options.dryRun) return { kind: 'dry-run', checks, ready: false, elapsedMs: performance.now() - input.started };
    throw refusal(checks);
  }
  const { plan, outputs, noReturn } = halfDone;
  const checks = [...input.before, warn(`half-done-${options.procedure.name}`, `${halfDone.reason}.${evidence}`)];
  options.onDecision?.(checks, plan);
  if (options.dryRun)
    return { kind: 'dry-run', checks, plan, ready: true, elapsedMs: performance.now() - input.started };
  if (!(await options.confirm(plan))) return { kind: 'declined', checks, plan };
  const journal = await begin(input, plan, checks, input.unfinished?.runId);
  const report = await runPlan(plan, {
    connections,
    outputs,
    noReturn,
    journal,
    emit: options.emit,
    signal: new AbortController().signal,
    recovers: input.unfinished?.runId,
    unconfirmed: (ctx) => options.procedure.unconfirmed(ctx),
    reportSection: (...args) => options.procedure.reportSection?.(...args) ?? {},
  });
  if (
    input.unfinished &&
    (report.outcome === 'succeeded' || report.outcome === 'degraded' || report.outcome === 'rolled-back')
  ) {
    new Journal(dirname(input.unfinished.file), input.unfinished.runId).write('recovered-by', {
      runId: input.runId,
      outcome: report.outcome,
    });
  }
  return {
    kind: 'ran',
    checks,
    plan,
    report: withAfterwards(options.procedure, notWhatWasAsked(options, plan, report)),
  };
}

/**
 * A command that named another node than the half-done run it had to finish first (switchover
 * -t pg2 finding a switchover to pg3 half-done) did not do what it was asked: done, degraded
 * (exit 8), and the report says to run it again; never exit 0 for a move that did not happen.
 */
function notWhatWasAsked(options: ProcedureOptions, plan: Plan, report: Report): Report {
  const asked = options.target;
  if (asked === undefined || report.outcome !== 'succeeded') return report;
  const finished = nodeNamed(options.procedure.name, plan.context.primary.name, plan.context.target.name);
  if (finished === asked) return report;
  return {
    ...report,
    outcome: 'degraded',
    exitCode: exitCodeOfOutcome.degraded,
    leftToDo: [
      ...report.leftToDo,
      `the ${options.procedure.name} ${options.procedure.name === 'rejoin' ? 'of' : 'to'} ${asked} you asked for was not started: run ${report.recovers ?? 'a previous run'} (${options.procedure.name === 'rejoin' ? 'of' : 'to'} ${finished}) was left half-done and had to be finished first; run the command again`,
    ],
  };
}

/**
 * The primary as the run left it becomes the last record of it, so that a failover minutes
 * after this run's switchover estimates its loss from what the tool itself saw (its position,
 * its synchronous standbys), not "no earlier observation".
 */
async function recordAfterRun(
  journalDir: string,
  inventoryFile: string,
  connections: Connections,
  report: Report,
): Promise<void> {
  if (report.outcome !== 'succeeded' && report.outcome !== 'degraded') return;
  const state = await observeCluster(connections, { queryTimeoutMs: 2000, binaries: false, hosts: false }).catch(
    () => undefined,
  );
  if (state) recordLastSeen(journalDir, inventoryFile, state);
}

const withAfterwards = (procedure: AnyProcedure, report: Report): Report => {
  const lines = procedure.afterwards?.(report) ?? [];
  return lines.length ? { ...report, leftToDo: [...report.leftToDo, ...lines] } : report;
};

function planFrom(
  procedure: AnyProcedure,
  state: ClusterState,
  playbook: Playbook,
  input: DecideInput<unknown>,
): { checks: readonly Check[]; plan?: Plan; done?: string } {
  const decision = procedure.decide(state, playbook, input);
  const steps = decision.only ? playbook.steps.filter((s) => decision.only!.includes(s.kind)) : playbook.steps;
  return {
    checks: decision.checks,
    done: decision.done,
    plan: decision.context ? buildPlan(playbook.name, procedure.name, steps, decision.context) : undefined,
  };
}

function refusal(checks: readonly Check[]): PreflightRefusedError {
  const failed = failures(checks);
  return new PreflightRefusedError(
    `preflight refused: ${failed.map((c) => `${c.id}: ${c.message}`).join('; ') || 'no plan could be made'}`,
  );
}

/** --playbook FILE, or the name of a built-in one (`platform-switchover`) when no such file exists. */
function playbookPath(file: string | undefined): string | undefined {
  if (file === undefined || existsSync(file) || !/^[a-z-]+$/.test(file)) return file;
  const builtIn = builtInPlaybook(file);
  return existsSync(builtIn) ? builtIn : file;
}
