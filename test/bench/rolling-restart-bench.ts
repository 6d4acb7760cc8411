/**
 * The rolling-restart benchmark: a real minor upgrade, PostgreSQL 15.17 -> 15.18
 * (scripts/install-older-minor.sh), under a write load through PgBouncer. Measured: the run's
 * total time, its write pause, and from the clients' side the longest gap between commits, the
 * errors and the acknowledged commits lost. Each round gets a fresh sandbox.
 *
 *   npm run bench:rolling-restart -- --rounds 3 --clients 8 --rate 500
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadInventory } from '../../src/inventory/load.js';
import { sandboxDown } from '../../src/sandbox/down.js';
import { sandboxUp } from '../../src/sandbox/up.js';
import { createLoadTable, longestGap, missingAcknowledged, WriteLoad } from '../../src/sandbox/write-load.js';
import { sleep } from '../../src/util/time.js';
import { reportOf } from './measure.js';
import { fmt, saveSection, summarize } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    clients: { type: 'string', default: '8' },
    rate: { type: 'string', default: '500' },
    out: { type: 'string', default: 'bench-results' },
  },
});
const BIN = resolve('bin/pg-handover.js');
const NEWER = '/usr/lib/postgresql/15/bin';

interface Round {
  readonly exitCode: number;
  readonly totalMs: number;
  readonly writePauseMs: number;
  readonly longestGapMs: number;
  readonly errors: number;
  readonly lost: number;
}

async function round(older: string): Promise<Round> {
  const parent = await mkdtemp(join(tmpdir(), 'pgh-rbench-'));
  await chmod(parent, 0o711);
  const dir = join(parent, 'sandbox');
  const { manifest } = await sandboxUp({ dir, replicas: 2, pgBin: older });
  try {
    const inventory = await loadInventory(manifest.inventoryFile);
    const app = inventory.poolers[0]!.app!;
    await createLoadTable(app);
    const load = new WriteLoad({ conn: app, clients: Number(flags.clients), rate: Number(flags.rate) });
    load.start();
    await sleep(1000);
    const start = load.elapsed();
    const result = await execa(
      'node',
      [BIN, 'rolling-restart', '-i', manifest.inventoryFile, '--bin-dir', NEWER, '--yes', '--json'],
      { reject: false, stdin: 'ignore' },
    );
    const end = load.elapsed();
    await sleep(1000);
    const outcome = await load.stop();
    const report = reportOf(result.stdout);
    if (result.exitCode !== 0)
      log(`exit ${result.exitCode}: ${String(result.stderr).split('\n').slice(-12).join('\n')}`);
    const primary = inventory.nodes.find((n) => n.name === (report.primaryNow ?? 'pg2'))!;
    return {
      exitCode: result.exitCode ?? -1,
      totalMs: Number(report.totalMs ?? end - start),
      writePauseMs: Number(report.writePauseMs ?? NaN),
      longestGapMs: longestGap(outcome.records, start, end).gapMs,
      errors: outcome.records.filter((r) => !r.ok).length,
      lost: await missingAcknowledged({ ...primary.conn, dbname: app.dbname }, outcome.records),
    };
  } finally {
    await sandboxDown(dir).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const older = (await execa('bash', ['scripts/install-older-minor.sh', '--print-dir'])).stdout.trim();
  const outDir = resolve(String(flags.out));
  await mkdir(outDir, { recursive: true });
  const rounds: Round[] = [];
  for (let i = 0; i < Number(flags.rounds); i++) {
    const r = await round(older);
    rounds.push(r);
    log(
      `round ${i + 1}/${flags.rounds}: exit ${r.exitCode}, ${fmt(r.totalMs)} ms, longest gap ${fmt(r.longestGapMs)} ms, ${r.errors} errors, ${r.lost} lost`,
    );
  }
  const row = (name: string, values: number[], unit = 'ms') => {
    const s = summarize(values);
    return `${name.padEnd(40)} ${fmt(s.median).padStart(8)} ${fmt(s.min).padStart(8)} ${fmt(s.max).padStart(8)}  ${unit}`;
  };
  process.stdout.write(
    `${[
      '',
      `pg-handover rolling-restart benchmark: 15.17 -> 15.18, ${flags.rounds} rounds, ${flags.clients} clients, ${flags.rate} commits/s, 2 replicas, playbook defaults`,
      `${'metric'.padEnd(40)} ${'median'.padStart(8)} ${'min'.padStart(8)} ${'max'.padStart(8)}`,
      row(
        'total time (3 restarts + switchover)',
        rounds.map((r) => r.totalMs),
      ),
      row(
        'write pause (pooler paused -> resumed)',
        rounds.map((r) => r.writePauseMs),
      ),
      row(
        'longest client gap',
        rounds.map((r) => r.longestGapMs),
      ),
      row(
        'client-visible errors',
        rounds.map((r) => r.errors),
        'errors',
      ),
      row(
        'acknowledged commits lost',
        rounds.map((r) => r.lost),
        'rows',
      ),
      `exit codes: ${rounds.map((r) => r.exitCode).join(' ')}`,
    ].join('\n')}\n`,
  );
  const rollingRestart = {
    totalMs: summarize(rounds.map((r) => r.totalMs)),
    writePauseMs: summarize(rounds.map((r) => r.writePauseMs)),
    longestGapMs: summarize(rounds.map((r) => r.longestGapMs)),
    errors: summarize(rounds.map((r) => r.errors)),
    lost: summarize(rounds.map((r) => r.lost)),
    rounds,
  };
  await saveSection(outDir, 'rollingRestart', rollingRestart);
}

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

await main();
