/**
 * `pg-handover demo`: a real switchover on a throwaway sandbox, under a write load through
 * PgBouncer (or HAProxy), then proof that no acknowledged row was lost; then the sandbox is removed.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exitCodeOfDemo } from '../exit-codes.js';
import { loadInventory } from '../inventory/load.js';
import { sandboxDown } from '../sandbox/down.js';
import { sandboxUp } from '../sandbox/up.js';
import { createLoadTable, longestGap, missingAcknowledged, WriteLoad } from '../sandbox/write-load.js';
import { formatMs, sleep } from '../util/time.js';
import { say } from './output.js';
import { procedureCommand } from './procedure-command.js';

export interface DemoFlags {
  dir?: string;
  keep?: boolean;
  router?: 'pgbouncer' | 'haproxy';
  json?: boolean;
}

export async function demoCommand(flags: DemoFlags): Promise<void> {
  const via = flags.router === 'haproxy' ? 'HAProxy' : 'PgBouncer';
  const parent = flags.dir ? undefined : await mkdtemp(join(tmpdir(), 'pg-handover-demo-'));
  if (parent) await chmod(parent, 0o711); // the servers run as another OS user when we are root
  const dir = flags.dir ? resolve(flags.dir) : join(parent!, 'sandbox');
  say(`1. sandbox: a primary, 2 streaming replicas and ${via}, built from local binaries`);
  const { manifest, elapsedMs } = await sandboxUp({
    dir,
    replicas: 2,
    router: flags.router,
    onProgress: (m) => say(`   ${m}`),
  });
  say(`   up in ${formatMs(elapsedMs)}; inventory ${manifest.inventoryFile}`);
  try {
    const inventory = await loadInventory(manifest.inventoryFile);
    const app = inventory.poolers[0]!.app!;
    await createLoadTable(app);
    const load = new WriteLoad({ conn: app, clients: 4, rate: 200 });
    say(
      `2. write load: 4 clients, 200 commits/s through ${via}, every acknowledged row recorded${flags.router === 'haproxy' ? ' (TCP: a client whose session is cut reconnects)' : ''}`,
    );
    load.start();
    await sleep(1000);
    say('3. pg-handover switchover --yes (the planned switchover)');
    const result = await procedureCommand('switchover', { inventory: manifest.inventoryFile, yes: true });
    await sleep(1000);
    const outcome = await load.stop();
    if (result.kind !== 'ran') return;
    // The verified primary; if there is none (a failed run), count rows on the intended one.
    const primary =
      inventory.nodes.find((n) => n.name === result.report.primaryNow) ??
      inventory.nodes.find((n) => n.name === result.report.target)!;
    const missing = await missingAcknowledged({ ...primary.conn, dbname: app.dbname }, outcome.records);
    const gap = longestGap(outcome.records);
    say('\n4. what the clients saw');
    say(`   acknowledged commits: ${outcome.acknowledged}`);
    say(`   client-visible errors: ${outcome.errors}`);
    say(`   longest gap between two commits of one client: ${formatMs(gap.gapMs)}`);
    say(`   acknowledged rows missing on the new primary ${primary.name}: ${missing}`);
    // Through HAProxy (TCP) the old primary's sessions are cut by design: errors are reported, not a failure.
    const unexpectedErrors = flags.router === 'haproxy' ? 0 : outcome.errors;
    process.exitCode ||= exitCodeOfDemo({ missing, unexpectedErrors, runExitCode: result.report.exitCode });
  } finally {
    if (flags.keep) say(`\nsandbox kept at ${dir}; stop it with: pg-handover sandbox down --dir ${dir}`);
    else {
      const down = await sandboxDown(dir);
      say(`\n5. sandbox down in ${formatMs(down.elapsedMs)}`);
      if (parent) await rm(parent, { recursive: true, force: true });
    }
  }
}
