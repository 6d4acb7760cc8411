/**
 * The managed switchover's benchmark (issue 25): `sandbox up --managed`, a write load through
 * PgBouncer, `switchover` with the role fence, the LSN and marker proof and the stand-in's
 * promote hook. Measured from the clients' side: the longest gap between commits, against the
 * stand-in's delay and against the hook's own duration (what the platform took, its process
 * start included); errors; acknowledged commits lost. Goal: gap <= delay + 150 ms. Each round
 * gets a fresh sandbox (the old primary stays fenced afterwards, as on a platform).
 *
 *   npm run bench:managed -- --rounds 5 --delay 1s
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadInventory } from '../../src/inventory/load.js';
import { sandboxDown } from '../../src/sandbox/down.js';
import { sandboxUp } from '../../src/sandbox/up.js';
import { createLoadTable, longestGap, missingAcknowledged, WriteLoad } from '../../src/sandbox/write-load.js';
import { parseDuration, sleep } from '../../src/util/time.js';
import { reportOf } from './measure.js';
import { fmt, saveSection, summarize } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    delay: { type: 'string', default: '1s' },
    clients: { type: 'string', default: '8' },
    rate: { type: 'string', default: '400' },
    // Idle application sessions straight on the old primary (a cron job, a console): the role fence terminates them inside the pause.
    'direct-sessions': { type: 'string', default: '0' },
    out: { type: 'string', default: 'bench-results' },
  },
});
const BIN = resolve('bin/pg-handover.js');
const DELAY_MS = parseDuration(String(flags.delay)) ?? 1000;

interface Round {
  readonly exitCode: number;
  readonly longestGapMs: number;
  readonly hookMs: number;
  readonly writePauseMs: number;
  readonly errors: number;
  readonly lost: number;
}

async function round(): Promise<Round> {
  const parent = await mkdtemp(join(tmpdir(), 'pgh-mbench-'));
  await chmod(parent, 0o711);
  const dir = join(parent, 'sandbox');
  const { manifest } = await sandboxUp({ dir, replicas: 2, managed: { promoteDelayMs: DELAY_MS } });
  try {
    const inventory = await loadInventory(manifest.inventoryFile);
    const app = inventory.poolers[0]!.app!;
    await createLoadTable(app);
    const load = new WriteLoad({ conn: app, clients: Number(flags.clients), rate: Number(flags.rate) });
    load.start();
    const direct = await Promise.all(
      Array.from({ length: Number(flags['direct-sessions']) }, async () => {
        const old = inventory.nodes.find((n) => n.name === 'pg1')!;
        const client = new pg.Client({ ...app, host: old.conn.host, port: old.conn.port, database: app.dbname });
        client.on('error', () => undefined); // terminated by the fence, as expected
        await client.connect();
        return client;
      }),
    );
    await sleep(1000);
    const start = load.elapsed();
    const result = await execa('node', [BIN, 'switchover', '-i', manifest.inventoryFile, '--yes', '--json'], {
      reject: false,
      stdin: 'ignore',
    });
    const end = load.elapsed();
    await sleep(1000);
    const outcome = await load.stop();
    await Promise.all(direct.map((c) => c.end().catch(() => undefined)));
    const report = reportOf(result.stdout) as { primaryNow?: string; writePauseMs?: number; journal?: string };
    const hook = report.journal
      ? (await readFile(report.journal, 'utf8'))
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { event: string; hook?: string; ms?: number })
          .find((e) => e.event === 'hook-end' && e.hook === 'promote')
      : undefined;
    const primary = inventory.nodes.find((n) => n.name === (report.primaryNow ?? 'pg2'))!;
    return {
      exitCode: result.exitCode ?? -1,
      longestGapMs: longestGap(outcome.records, start, end).gapMs,
      hookMs: hook?.ms ?? NaN,
      writePauseMs: Number(report.writePauseMs ?? NaN),
      errors: outcome.records.filter((r) => !r.ok).length,
      // Read as the application (the platform admin may not read its table), straight from the new primary.
      lost: await missingAcknowledged({ ...app, host: primary.conn.host, port: primary.conn.port }, outcome.records),
    };
  } finally {
    await sandboxDown(dir).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const outDir = resolve(String(flags.out));
  await mkdir(outDir, { recursive: true });
  const load = loadavg()[0]!;
  const rounds: Round[] = [];
  for (let i = 0; i < Number(flags.rounds); i++) {
    const r = await round();
    rounds.push(r);
    process.stderr.write(
      `bench: round ${i + 1}/${flags.rounds}: exit ${r.exitCode}, gap ${fmt(r.longestGapMs)} ms (hook ${fmt(r.hookMs)} ms), ${r.errors} errors, ${r.lost} lost\n`,
    );
  }
  const row = (name: string, values: number[], goal: string, unit = 'ms') => {
    const s = summarize(values);
    return `${name.padEnd(44)} ${fmt(s.median).padStart(8)} ${fmt(s.min).padStart(8)} ${fmt(s.max).padStart(8)}  ${unit.padEnd(6)} ${goal}`;
  };
  process.stdout.write(
    `${[
      '',
      `pg-handover managed switchover benchmark (sandbox up --managed): stand-in delay ${DELAY_MS} ms, ${flags.rounds} rounds, ${flags.clients} clients, ${flags.rate} commits/s, ${flags['direct-sessions']} direct session(s) on the old primary, load average ${load.toFixed(2)}`,
      `${'metric'.padEnd(44)} ${'median'.padStart(8)} ${'min'.padStart(8)} ${'max'.padStart(8)}  ${'unit'.padEnd(6)} goal`,
      row(
        'longest client gap',
        rounds.map((r) => r.longestGapMs),
        '',
      ),
      row(
        'gap - the stand-in delay',
        rounds.map((r) => r.longestGapMs - DELAY_MS),
        '<= 150 ms',
      ),
      row(
        'gap - the promote hook (what the platform took)',
        rounds.map((r) => r.longestGapMs - r.hookMs),
        '',
      ),
      row(
        'promote hook (delay, the promotion, its exit)',
        rounds.map((r) => r.hookMs),
        '',
      ),
      row(
        'client-visible errors',
        rounds.map((r) => r.errors),
        '0',
        'errors',
      ),
      row(
        'acknowledged commits lost',
        rounds.map((r) => r.lost),
        '0',
        'rows',
      ),
      `exit codes: ${rounds.map((r) => r.exitCode).join(' ')}`,
    ].join('\n')}\n`,
  );
  const managedSwitchover = {
    delayMs: DELAY_MS,
    loadAverage: load,
    longestGapMs: summarize(rounds.map((r) => r.longestGapMs)),
    overDelayMs: summarize(rounds.map((r) => r.longestGapMs - DELAY_MS)),
    overHookMs: summarize(rounds.map((r) => r.longestGapMs - r.hookMs)),
    rounds,
  };
  await saveSection(outDir, 'managedSwitchover', managedSwitchover);
}

await main();
