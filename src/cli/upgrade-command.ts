/** `pg-handover upgrade-major prepare`: parse, call the core, render. */
import { BadInputError } from '../errors.js';
import { exitCodeOfPrepare } from '../exit-codes.js';
import { parseDuration } from '../util/time.js';
import { loadInventory } from '../inventory/load.js';
import { prepareUpgrade } from '../runner/upgrade-prepare.js';
import { out, outJson, say } from './output.js';
import { renderChecks } from './render-plan.js';

export interface PrepareFlags {
  inventory: string;
  dryRun?: boolean;
  acceptLargeObjects?: boolean;
  timeout?: string;
  json?: boolean;
}

export async function upgradePrepareCommand(flags: PrepareFlags): Promise<void> {
  const inventory = await loadInventory(flags.inventory);
  const timeoutMs = flags.timeout === undefined ? undefined : parseDuration(flags.timeout);
  if (flags.timeout !== undefined && !timeoutMs)
    throw new BadInputError(
      `--timeout: expected a duration such as "30m" or "90s", got ${JSON.stringify(flags.timeout)}`,
      'timeout',
    );
  const result = await prepareUpgrade(inventory, {
    dryRun: flags.dryRun,
    acceptLargeObjects: flags.acceptLargeObjects,
    timeoutMs,
    onProgress: (line) => (flags.json ? outJson({ event: 'progress', line }) : say(`  ${line}`)),
  });
  if (flags.json) {
    outJson({
      event: 'prepare',
      checks: result.checks,
      actions: result.actions,
      ready: result.ready,
      dryRun: !!flags.dryRun,
    });
  } else {
    out(renderChecks(result.checks));
    out(
      '\nPlan (upgrade-major prepare), each action skipped when already done; DDL must stay frozen until the cutover:',
    );
    for (const line of result.actions) out(`  ${line}`);
    out(
      flags.dryRun
        ? '\nDRY RUN: nothing changed'
        : result.ready
          ? '\nREADY: every table replicating; the cutover can follow'
          : '\nNOT READY YET: the initial copy goes on; run prepare again to keep watching',
    );
  }
  process.exitCode = exitCodeOfPrepare(Boolean(flags.dryRun), result.ready);
}
