/** One command per procedure (`switchover`, alias `promote`, …): parse flags, run it, render checks, plan, progress and report. */
import { createInterface } from 'node:readline/promises';
import { failures } from '../decide/checks.js';
import { BadInputError } from '../errors.js';
import { exitCodeFor, exitCodeOfEnd } from '../exit-codes.js';
import type { Plan } from '../playbook/plan.js';
import { defaultJournalDir } from '../runner/journal.js';
import { procedureEntry } from '../procedures/catalog.js';
import type { AnyProcedure } from '../procedures/types.js';
import { runProcedure, type ProcedureResult } from '../runner/run-procedure.js';
import { formatMs } from '../util/time.js';
import { out, outJson, say } from './output.js';
import { jsonView, plainView, type ProgressView } from './progress.js';
import { planJson, renderChecks, renderPlan } from './render-plan.js';
import { renderReport } from './render-report.js';
import { appendSummary, failureSummary, summaryOf } from './summary.js';

export interface ProcedureFlags {
  inventory: string;
  playbook?: string;
  target?: string;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
  journalDir?: string;
  fleetLock?: string;
  fleetSlots?: string;
  /** Append a Markdown summary of the end to this file (CI: $GITHUB_STEP_SUMMARY). */
  summary?: string;
  /** A procedure's own flags (its options.ts declares and parses them). */
  [own: string]: unknown;
}

export async function procedureCommand(name: string, flags: ProcedureFlags): Promise<ProcedureResult> {
  if (!flags.dryRun && !flags.yes && !process.stdin.isTTY) {
    throw new BadInputError('--yes: required when stdin is not a terminal (nothing was contacted); or use --dry-run');
  }
  const procedure = await procedureEntry(name).load();
  const interrupt = new AbortController();
  let view: ProgressView | undefined;
  let pastNoReturn = false;
  const onSignal = (name: NodeJS.Signals) => {
    if (interrupt.signal.aborted || pastNoReturn) {
      say(`${name}: past the point of no return or already stopping; finishing the remaining steps`);
      return;
    }
    say(`${name}: stopping and rolling back (before promotion)`);
    interrupt.abort(new Error(`interrupted by ${name}`));
  };
  // A closed terminal or dropped ssh (SIGHUP) is treated like SIGTERM: roll back before promotion,
  // finish after it. Output to the gone terminal is dropped (cli/output.ts); the journal keeps all.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  try {
    const result = await runProcedure({
      procedure,
      inventoryFile: flags.inventory,
      playbookFile: flags.playbook,
      target: flags.target,
      dryRun: Boolean(flags.dryRun),
      journalDir: flags.journalDir ?? defaultJournalDir(flags.inventory),
      signal: interrupt.signal,
      flags,
      fleetLock: fleetLockOf(flags),
      onDecision: (checks, plan) => showDecision(flags, checks, plan),
      confirm: async (plan) => {
        const ok = flags.yes || (await ask(procedure, plan));
        if (ok)
          view = flags.json
            ? jsonView()
            : process.stderr.isTTY
              ? (await import('./listr-view.js')).listrView(plan)
              : plainView();
        return ok;
      },
      emit: (event) => {
        if (event.type === 'step-start' && event.step.phase === 'promotion') pastNoReturn = true;
        view?.on(event);
      },
    });
    await view?.finish();
    process.exitCode = finish(procedure, flags, result);
    if (flags.summary)
      await appendSummary(flags.summary, summaryOf(procedure, `pg-handover ${name}`, result, Number(process.exitCode)));
    return result;
  } catch (error) {
    if (flags.summary)
      await appendSummary(
        flags.summary,
        failureSummary(`pg-handover ${name}`, (error as Error).message, exitCodeFor(error)),
      ).catch(() => undefined);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}

function fleetLockOf(flags: ProcedureFlags): { dsn: string; slots: number } | undefined {
  if (flags.fleetSlots !== undefined && !flags.fleetLock)
    throw new BadInputError('--fleet-slots: expected with --fleet-lock', 'fleet-slots');
  if (!flags.fleetLock) return undefined;
  const slots = Number(flags.fleetSlots ?? 1);
  if (!Number.isInteger(slots) || slots < 1 || slots > 1000)
    throw new BadInputError(
      `--fleet-slots: expected a whole number from 1 to 1000, got "${flags.fleetSlots}"`,
      'fleet-slots',
    );
  return { dsn: flags.fleetLock, slots };
}

function showDecision(flags: ProcedureFlags, checks: Parameters<typeof renderChecks>[0], plan: Plan | undefined): void {
  if (flags.json) {
    outJson({ event: 'checks', checks });
    if (plan) outJson({ event: 'plan', plan: planJson(plan) });
    return;
  }
  const show = flags.dryRun ? out : say;
  show(renderChecks(checks));
  if (plan) show(`\n${renderPlan(plan)}`);
}

function finish(procedure: AnyProcedure, flags: ProcedureFlags, result: ProcedureResult): number {
  if (result.kind === 'dry-run') {
    const failed = failures(result.checks);
    const verdict = result.ready
      ? `READY: ${result.plan!.context.primary.name} -> ${result.plan!.context.target.name} (dry run, nothing changed, ${formatMs(result.elapsedMs)})`
      : `NOT READY: ${failed.length} failing check(s): ${failed.map((c) => c.id).join(', ')} (dry run, nothing changed)`;
    if (flags.json)
      outJson({
        event: 'verdict',
        ready: result.ready,
        failing: failed.map((c) => c.id),
        elapsedMs: Math.round(result.elapsedMs),
      });
    else out(`\n${verdict}`);
    return exitCodeOfEnd[result.ready ? 'ready' : 'not-ready'];
  }
  if (result.kind === 'declined') {
    say('declined: nothing was changed');
    return exitCodeOfEnd.declined;
  }
  if (result.kind === 'nothing-to-do') {
    if (flags.json) outJson({ event: 'done', message: result.message });
    else say(`NOTHING TO DO: ${result.message} (exit 0)`);
    return exitCodeOfEnd['nothing-to-do'];
  }
  if (result.kind === 'nothing-to-recover') {
    say(`nothing to recover: no half-done ${procedure.name}`);
    return exitCodeOfEnd['nothing-to-recover'];
  }
  if (flags.json) outJson({ event: 'report', report: result.report });
  else say(renderReport(result.report, procedure.headline(result.report)));
  return result.report.exitCode;
}

async function ask(procedure: AnyProcedure, plan: Plan): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`\n${procedure.question(plan)} Type "yes" to go on: `);
    return answer.trim().toLowerCase() === 'yes';
  } finally {
    rl.close();
  }
}
