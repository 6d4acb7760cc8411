/**
 * The major-upgrade benchmark: PostgreSQL 15 -> 17 by logical replication (sandbox
 * --upgrade-target 17), under a write load through PgBouncer. After prepare-upgrade, the writes
 * move to 17 and back to 15 in turn (upgrade-major, upgrade-major --back); measured from the
 * clients' side: the longest gap between commits, errors and acknowledged commits lost, and the
 * tool's write pause.
 *
 *   npm run bench:upgrade -- --cutovers 4 --clients 8 --rate 500
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadInventory } from '../../src/inventory/load.js';
import { sandboxDown } from '../../src/sandbox/down.js';
import { sandboxUp } from '../../src/sandbox/up.js';
import { createLoadTable, missingAcknowledgedKeys, WriteLoad } from '../../src/sandbox/write-load.js';
import { sleep } from '../../src/util/time.js';
import { clientView, type ClientView, reportOf } from './measure.js';
import { fmt, summarize } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    cutovers: { type: 'string', default: '4' },
    clients: { type: 'string', default: '8' },
    rate: { type: 'string', default: '500' },
    settle: { type: 'string', default: '1500' },
    out: { type: 'string', default: 'bench-results' },
  },
});
const BIN = resolve('bin/pg-handover.js');
const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

interface Cutover {
  readonly direction: string;
  readonly exitCode: number;
  readonly wallMs: number;
  readonly pauseMs: number;
  readonly window: [number, number];
}

async function main(): Promise<void> {
  const parent = await mkdtemp(join(tmpdir(), 'pgh-bench-upgrade-'));
  await chmod(parent, 0o711);
  const dir = join(parent, 'sandbox');
  const { manifest, elapsedMs } = await sandboxUp({ dir, replicas: 1, upgradeTarget: 17 });
  log(
    `sandbox up in ${fmt(elapsedMs)} ms: PostgreSQL 15 (2 nodes) + PgBouncer, PostgreSQL 17 (${manifest.upgradeTarget!.pgBin})`,
  );
  try {
    const inventory = await loadInventory(manifest.inventoryFile);
    const app = inventory.poolers[0]!.app!;
    await createLoadTable(app);
    const admin = new pg.Client({ ...inventory.nodes[0]!.conn, database: 'appdb' });
    await admin.connect();
    await admin.query('GRANT ALL ON ALL TABLES IN SCHEMA public TO app');
    await admin.end();
    const prepared = await execa('node', [BIN, 'prepare-upgrade', '-i', manifest.inventoryFile], {
      reject: false,
      stdin: 'ignore',
    });
    if (prepared.exitCode !== 0) throw new Error(`prepare-upgrade: ${prepared.stderr}`);
    const load = new WriteLoad({ conn: app, clients: Number(flags.clients), rate: Number(flags.rate) });
    load.start();
    await sleep(Number(flags.settle));
    const cutovers: Cutover[] = [];
    for (let i = 0; i < Number(flags.cutovers); i++) {
      const back = i % 2 === 1;
      const start = load.elapsed();
      const result = await execa(
        'node',
        [BIN, 'upgrade-major', '-i', manifest.inventoryFile, '--yes', '--json', ...(back ? ['--back'] : [])],
        { reject: false, stdin: 'ignore' },
      );
      const end = load.elapsed();
      const report = reportOf(result.stdout);
      cutovers.push({
        direction: back ? '17 -> 15' : '15 -> 17',
        exitCode: result.exitCode ?? -1,
        wallMs: end - start,
        pauseMs: report.writePauseMs ?? NaN,
        window: [start, end],
      });
      log(
        `cutover ${i + 1} (${back ? '17 -> 15, --back' : '15 -> 17'}): exit ${result.exitCode}, tool pause ${report.writePauseMs ?? '?'} ms`,
      );
      await sleep(Number(flags.settle));
    }
    const outcome = await load.stop();
    const last = cutovers.length % 2 === 1 ? inventory.upgradeTarget!.nodes[0]! : inventory.nodes[0]!;
    const missing = await missingAcknowledgedKeys({ ...last.conn, dbname: app.dbname }, outcome.records);
    const views: ClientView[] = cutovers.map((c) =>
      clientView(outcome.records, c.window[0], c.window[1] + 1000, missing),
    );
    const row = (name: string, values: number[], unit = 'ms') => {
      const s = summarize(values);
      return `${name.padEnd(34)} ${fmt(s.median).padStart(8)} ${fmt(s.min).padStart(8)} ${fmt(s.max).padStart(8)}  ${unit}`;
    };
    const lines = [
      '',
      `pg-handover upgrade-major benchmark: PostgreSQL 15 <-> 17, ${cutovers.length} cutovers (forward and --back in turn), ${flags.clients} clients, ${flags.rate} commits/s`,
      `${'metric'.padEnd(34)} ${'median'.padStart(8)} ${'min'.padStart(8)} ${'max'.padStart(8)}`,
      row(
        'longest commit gap (any client)',
        views.map((v) => v.longestGapMs),
      ),
      row(
        'client-visible errors',
        views.map((v) => v.errors),
        'errors',
      ),
      row(
        'acknowledged commits missing',
        views.map((v) => v.missing),
        'rows',
      ),
      row(
        'tool write pause (PAUSE..RESUME)',
        cutovers.map((c) => c.pauseMs),
      ),
      row(
        'upgrade-major wall time',
        cutovers.map((c) => c.wallMs),
      ),
      `exit codes: ${cutovers.map((c) => c.exitCode).join(' ')}; ${outcome.acknowledged} commits acknowledged, ${missing.size} missing at the end`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const outDir = resolve(String(flags.out));
    await mkdir(outDir, { recursive: true });
    await writeFile(
      join(outDir, 'upgrade-results.json'),
      `${JSON.stringify({ cutovers: cutovers.map((c, i) => ({ ...c, client: views[i] })), acknowledged: outcome.acknowledged, missing: missing.size }, null, 2)}\n`,
    );
  } finally {
    await sandboxDown(dir).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
  }
}

await main();
