/**
 * The switchover at a distance: every node one latency relay away from everything that talks to
 * it (the tool, PgBouncer, its peers' replication), with 0, 20, 50 and 80 ms round trips, under
 * a write load through PgBouncer; switched to the other node and back, repeatedly. The tool's
 * host commands (stop, pg_control) stay local: it runs beside each node's host as an ssh prefix
 * would, and what the relay delays is every PostgreSQL and PgBouncer conversation.
 *
 *   npm run bench:distance -- --switchovers 4 --rtts 0,20,50,80
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadInventory } from '../../src/inventory/load.js';
import type { ConnParams } from '../../src/inventory/model.js';
import { sandboxDown } from '../../src/sandbox/down.js';
import { sandboxUp } from '../../src/sandbox/up.js';
import { createLoadTable, missingAcknowledgedKeys, WriteLoad } from '../../src/sandbox/write-load.js';
import { sleep } from '../../src/util/time.js';
import { startLatencyRelay, type LatencyRelay } from './latency-relay.js';
import { clientView, reportOf } from './measure.js';
import { PHASES, pauseBreakdown, readJournal, type Phase } from './pause-breakdown.js';
import { distanceSplit, fmt, saveSection, summarize } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    switchovers: { type: 'string', default: '4' },
    rtts: { type: 'string', default: '0,20,50,80' },
    clients: { type: 'string', default: '8' },
    rate: { type: 'string', default: '200' },
    out: { type: 'string', default: 'bench-results' },
  },
});
const BIN = resolve('bin/pg-handover.js');
const RTTS = String(flags.rtts).split(',').map(Number);

async function query(conn: ConnParams, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ ...conn, database: conn.dbname });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

interface Switch {
  readonly rttMs: number;
  readonly to: string;
  readonly exitCode: number;
  readonly gapMs: number;
  readonly errors: number;
  readonly missing: number;
  readonly pauseMs: number;
  readonly phases?: Record<Phase, number>;
  readonly commitMs: number;
}

async function main(): Promise<void> {
  const outDir = resolve(String(flags.out));
  await mkdir(outDir, { recursive: true });
  const loadAtStart = loadavg()[0]!;
  const parent = await mkdtemp(join(tmpdir(), 'pgh-distance-'));
  await chmod(parent, 0o711);
  const dir = join(parent, 'sandbox');
  const { manifest } = await sandboxUp({ dir, replicas: 1 });
  const relays: LatencyRelay[] = [];
  try {
    const original = await loadInventory(manifest.inventoryFile);
    const [pg1, pg2] = original.nodes;
    for (const node of [pg1!, pg2!])
      relays.push(await startLatencyRelay({ host: '127.0.0.1', port: node.conn.port }, 0));
    // The inventory names each node by its relay: the tool, the pooler and the peers all go through it.
    let yaml = await readFile(manifest.inventoryFile, 'utf8');
    yaml = yaml.replace(`port=${pg1!.conn.port} `, `port=${relays[0]!.port} `);
    yaml = yaml.replace(`port=${pg2!.conn.port} `, `port=${relays[1]!.port} `);
    const inventoryFile = join(dir, 'inventory-far.yaml');
    await writeFile(inventoryFile, yaml);
    // pg2 streams through pg1's relay; PgBouncer sends clients through it.
    const conninfo = String((await query(pg2!.conn, 'SHOW primary_conninfo')).rows[0].primary_conninfo);
    await query(
      pg2!.conn,
      `ALTER SYSTEM SET primary_conninfo = '${conninfo.replace(/port=\d+/, `port=${relays[0]!.port}`).replace(/'/g, "''")}'`,
    );
    await query(pg2!.conn, 'SELECT pg_reload_conf()');
    const pooler = original.poolers[0]! as (typeof original.poolers)[0] & { configFile: string; admin: ConnParams };
    const ini = await readFile(pooler.configFile, 'utf8');
    await writeFile(pooler.configFile, ini.replace(`port=${pg1!.conn.port} `, `port=${relays[0]!.port} `));
    await query(pooler.admin, 'RELOAD');
    for (let i = 0; i < 100; i++) {
      const rows = (await query(pg1!.conn, 'SELECT count(*)::int AS n FROM pg_stat_replication')).rows;
      if (rows[0].n > 0) break;
      await sleep(100);
    }
    const app = pooler.app!;
    await createLoadTable(app);
    const load = new WriteLoad({ conn: app, clients: Number(flags.clients), rate: Number(flags.rate) });
    load.start();
    const journalDir = join(dir, 'runs');
    const runs: Array<
      Omit<Switch, 'gapMs' | 'errors' | 'missing' | 'phases' | 'commitMs'> & {
        window: [number, number];
        runId?: string;
        commitWindow: [number, number];
      }
    > = [];
    const names = [pg1!.name, pg2!.name];
    for (const rtt of RTTS) {
      for (const r of relays) r.rttMs = rtt;
      // Commits at this distance before the first switchover: the baseline commit latency.
      const commitFrom = load.elapsed();
      await sleep(2000);
      const commitTo = load.elapsed();
      for (let i = 0; i < Number(flags.switchovers); i++) {
        const to = names[(i + 1) % 2]!;
        const start = load.elapsed();
        const result = await execa(
          'node',
          [BIN, 'switchover', '-i', inventoryFile, '--yes', '--json', '--target', to, '--journal-dir', journalDir],
          { reject: false, stdin: 'ignore' },
        );
        const end = load.elapsed();
        const report = reportOf(result.stdout);
        runs.push({
          rttMs: rtt,
          to,
          exitCode: result.exitCode ?? -1,
          pauseMs: report.writePauseMs ?? NaN,
          window: [start, end],
          runId: report.runId,
          commitWindow: [commitFrom, commitTo],
        });
        const why =
          result.exitCode === 0
            ? ''
            : `: ${String(report.error ?? String(result.stderr).trim().split('\n').at(-1)).slice(0, 400)}`;
        log(
          `rtt ${rtt} ms: switchover to ${to}: exit ${result.exitCode}, tool pause ${report.writePauseMs ?? '?'} ms${why}`,
        );
        await sleep(1500);
      }
    }
    const outcome = await load.stop();
    const last = runs.filter((r) => r.exitCode === 0).at(-1)?.to ?? names[0]!;
    const primary = original.nodes.find((n) => n.name === last)!;
    const missingKeys = await missingAcknowledgedKeys({ ...primary.conn, dbname: app.dbname }, outcome.records);
    const results: Switch[] = [];
    for (const r of runs) {
      const view = clientView(outcome.records, r.window[0], r.window[1] + 1000, missingKeys);
      const commits = outcome.records.filter(
        (x) => x.ok && x.sentAt >= r.commitWindow[0] && x.sentAt <= r.commitWindow[1],
      );
      results.push({
        ...r,
        gapMs: view.longestGapMs,
        errors: view.errors,
        missing: view.missing,
        phases: pauseBreakdown(await readJournal(journalDir, r.runId), outcome.records, outcome.startedAtEpochMs),
        commitMs: summarize(commits.map((x) => x.doneAt - x.sentAt)).median,
      });
    }
    const at = (rtt: number) => results.filter((r) => r.rttMs === rtt);
    const base = summarize(at(RTTS[0]!).map((r) => r.gapMs)).median;
    const lines = [
      '',
      `switchover at a distance: every node behind a latency relay (tool, PgBouncer and replication through it), ${flags.switchovers} switchovers per round trip, ${flags.clients} clients, ${flags.rate} commits/s`,
      `${'rtt'.padStart(5)} ${'commit'.padStart(7)} ${'longest gap'.padStart(20)} ${'growth'.padStart(8)} ${'in rtts'.padStart(8)} ${'pause'.padStart(7)} ${'errors'.padStart(7)} ${'lost'.padStart(5)}  exit codes`,
      ...RTTS.map((rtt) => {
        const rs = at(rtt);
        const gap = summarize(rs.map((r) => r.gapMs));
        const growth = gap.median - base;
        return `${String(rtt).padStart(5)} ${fmt(rs[0]?.commitMs ?? NaN).padStart(7)} ${`${fmt(gap.median)} (${fmt(gap.min)}-${fmt(gap.max)})`.padStart(20)} ${fmt(growth).padStart(8)} ${(rtt ? (growth / rtt).toFixed(1) : '-').padStart(8)} ${fmt(summarize(rs.map((r) => r.pauseMs)).median).padStart(7)} ${String(rs.reduce((n, r) => n + r.errors, 0)).padStart(7)} ${String(rs.reduce((n, r) => n + r.missing, 0)).padStart(5)}  ${rs.map((r) => r.exitCode).join(' ')}`;
      }),
      'goal: the gap grows by at most about two round trips; 0 errors, 0 lost',
      ...RTTS.filter((rtt) => rtt > 0).map((rtt) => {
        const split = distanceSplit(results, rtt, RTTS[0]);
        return `  at ${rtt} ms: ${fmt(split.pause, 1)} rtt of the growth in the tool's write pause (PAUSE..RESUME), ${fmt(split.afterResume, 1)} after RESUME (PgBouncer's new server logins, one at a time, the clients queued on the first)`;
      }),
      'where the gap goes, medians in ms per round trip:',
      `${''.padEnd(32)}${RTTS.map((r) => `${r} ms`.padStart(8)).join('')}`,
      ...PHASES.map(
        (p) =>
          `  ${p.padEnd(30)}${RTTS.map((rtt) => fmt(summarize(at(rtt).map((r) => r.phases?.[p] ?? NaN)).median).padStart(8)).join('')}`,
      ),
      `machine load (1-min average): ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end, ${cpus().length} cores`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    await saveSection(outDir, 'distance', { results, load: { start: loadAtStart, end: loadavg()[0] } });
    // The runs' journals beside the figures: each step's start and end, to trace a gap afresh.
    if (process.env.PGH_BENCH_KEEP) {
      await execa('cp', ['-r', journalDir, join(outDir, 'distance-journals')], { reject: false });
      await writeFile(join(outDir, 'distance-commits.json'), JSON.stringify(outcome));
    }
  } finally {
    for (const r of relays) await r.close();
    await sandboxDown(dir).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
  }
}

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

await main();
