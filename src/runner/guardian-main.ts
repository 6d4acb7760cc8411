/**
 * The guardian process (see guardian.ts). Kept small: it loads the recovery code only when the
 * tool has died without a report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isAlive } from '../shell/processes.js';
import { sleep } from '../util/time.js';
import type { GuardianOrders } from './guardian.js';
import { Journal } from './journal.js';

type RunAsOrdered = (how: { onlyRecover: boolean }) => ReturnType<typeof import('./run-procedure.js').runProcedure>;

const POLL_MS = 50;
const ATTEMPTS = 5;
/** How a half-done switchover says its promotion was requested and has not happened yet. */
const PROMOTION_PENDING = /promotion of \S+ was requested.*not a writable primary yet/;
/** How long the guardian waits for such a promotion (a platform's can take minutes). */
const PENDING_LIMIT_MS = 15 * 60_000;
let pending: number | undefined;
const pendingSince = (started: number): boolean =>
  pending !== undefined && performance.now() - started < PENDING_LIMIT_MS;

const orders = JSON.parse(process.argv[2] ?? '{}') as GuardianOrders;
process.on('SIGHUP', () => undefined);
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => process.exit(0));
process.stdout.write('ready\n', () => process.stdout.destroy());

while (isAlive(orders.toolPid)) await sleep(POLL_MS);
// No journal: the tool died before its run started (it starts its guardian early), so nothing changed.
if (existsSync(orders.journalFile) && !finished()) await recover();
process.exit(0);

function finished(): boolean {
  return existsSync(orders.journalFile) && readFileSync(orders.journalFile, 'utf8').includes('"event":"report"');
}

/**
 * A failover undone before promotion leaves the cluster as it was found: its primary down or
 * hung, nobody writable. The operator confirmed this failover and the tool died, not the
 * operator's mind: so the guardian runs it again, from a fresh observation and with every check
 * (witnesses, the loss limit), as the operator would. (Ctrl-C never gets here: the tool itself
 * rolls back and reports, and its guardian is dismissed.)
 */
async function failoverAgain(journal: Journal, run: RunAsOrdered): Promise<void> {
  journal.write('guardian-failover-again', { guardianPid: process.pid });
  try {
    const again = await run({ onlyRecover: false });
    journal.write('guardian-failover-again-end', {
      outcome: again.kind === 'ran' ? again.report.outcome : again.kind,
      runId: again.kind === 'ran' ? again.report.runId : undefined,
    });
  } catch (error) {
    journal.write('guardian-failover-again-failed', { error: (error as Error).message });
  }
}

async function recover(): Promise<void> {
  const runId = /([^/]+)\.jsonl$/.exec(orders.journalFile)?.[1] ?? 'unknown';
  const journal = new Journal(dirname(orders.journalFile), runId);
  journal.write('guardian-recovery-start', { guardianPid: process.pid, toolPid: orders.toolPid });
  const [{ runProcedure }, { procedureEntry }] = await Promise.all([
    import('./run-procedure.js'),
    import('../procedures/catalog.js'),
  ]);
  const procedure = await procedureEntry(orders.procedure).load();
  // The run the tool was doing, as its orders say, confirmed: only recovering it, or (a failover) again.
  const run: RunAsOrdered = ({ onlyRecover }) =>
    runProcedure({
      procedure,
      inventoryFile: orders.inventoryFile,
      playbookFile: orders.playbookFile,
      flags: orders.flags,
      dryRun: false,
      journalDir: orders.journalDir,
      signal: new AbortController().signal,
      emit: () => undefined,
      confirm: async () => true,
      onlyRecover,
    });
  const started = performance.now();
  for (let attempt = 1; attempt <= ATTEMPTS || pendingSince(started); attempt++) {
    try {
      const result = await run({ onlyRecover: true });
      const outcome = result.kind === 'ran' ? result.report.outcome : result.kind;
      journal.write('guardian-recovery-end', {
        attempt,
        outcome,
        runId: result.kind === 'ran' ? result.report.runId : undefined,
      });
      // Nothing of the run is left in the cluster (it died before changing anything, or its goal
      // is met): its record is closed on that evidence, so it blocks no later run.
      if (result.kind === 'nothing-to-recover')
        journal.write('recovered-by', { outcome: 'nothing-to-recover', reason: 'the cluster shows no trace of it' });
      if (result.kind === 'ran' && result.report.outcome === 'rolled-back' && orders.procedure === 'failover') {
        await failoverAgain(journal, run);
        return;
      }
      if (result.kind !== 'ran' || result.report.outcome !== 'undo-failed') return;
    } catch (error) {
      journal.write('guardian-recovery-failed', { attempt, error: (error as Error).message });
      // A platform still promoting (its hook ran when the tool died): wait for it, not 5 tries.
      if (PROMOTION_PENDING.test((error as Error).message)) {
        pending ??= performance.now();
        await sleep(2000);
        continue;
      }
    }
    await sleep(1000 * attempt);
  }
}
