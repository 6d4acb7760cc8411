/**
 * The switchover benchmark: how long writes pause and how many clients notice, measured from
 * the clients' side. A write load through PgBouncer (this process) runs while pg-handover (a
 * child process, the tool under test) switches the primary back and forth.
 *
 *   npm run bench -- --switchovers 6 --clients 8 --rate 500 --replicas 2
 *   tsx test/bench/switchover-bench.ts --router haproxy   (HAProxy, then PgBouncer: both side by side)
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadInventory } from '../../src/inventory/load.js';
import { sandboxDown } from '../../src/sandbox/down.js';
import { sandboxUp } from '../../src/sandbox/up.js';
import { createLoadTable, missingAcknowledgedKeys, WriteLoad } from '../../src/sandbox/write-load.js';
import { sleep } from '../../src/util/time.js';
import { writeLatencyChart, type StepMark } from './chart.js';
import { clientView, type ClientView, reportOf } from './measure.js';
import { fmt, summarize } from './stats.js';
import { PHASES, pauseBreakdown, readJournal, type JournalLine, type Phase } from './pause-breakdown.js';

const { values: flags } = parseArgs({
  options: {
    switchovers: { type: 'string', default: '6' },
    clients: { type: 'string', default: '8' },
    rate: { type: 'string', default: '500' },
    replicas: { type: 'string', default: '2' },
    poolers: { type: 'string', default: '1' },
    settle: { type: 'string', default: '2000' },
    out: { type: 'string', default: 'bench-results' },
    keep: { type: 'boolean', default: false },
    router: { type: 'string', default: 'pgbouncer' },
  },
});
type RouterName = 'pgbouncer' | 'haproxy';
if (!['pgbouncer', 'haproxy'].includes(String(flags.router)))
  throw new Error('--router: expected pgbouncer or haproxy');
const N = Number(flags.switchovers);
const BIN = resolve('bin/pg-handover.js');
const KEY_STEPS = ['fence-writes', 'wait-catchup', 'promote', 'repoint-pooler', 'resume'];

interface SwitchoverResult {
  readonly index: number;
  readonly from: string;
  readonly to: string;
  readonly exitCode: number;
  readonly wallMs: number;
  readonly client: ClientView;
  readonly toolPauseMs: number | undefined;
  readonly stepMs: Record<string, number>;
  readonly marks: StepMark[];
  readonly window: [number, number];
  readonly journal: JournalLine[];
  readonly phases?: Record<Phase, number>;
}

interface RouterFigures {
  readonly router: RouterName;
  readonly gapMs: number[];
  readonly errors: number[];
  readonly missing: number[];
  readonly pauseMs: number[];
  readonly wallMs: number[];
}

/** With --router haproxy, HAProxy and then PgBouncer on the same machine and settings, side by side. */
async function main(): Promise<void> {
  const routers: RouterName[] = flags.router === 'haproxy' ? ['haproxy', 'pgbouncer'] : ['pgbouncer'];
  const figures: RouterFigures[] = [];
  for (const router of routers)
    figures.push(await benchRouter(router, routers.length > 1 ? join(String(flags.out), router) : String(flags.out)));
  if (figures.length > 1) printSideBySide(figures);
}

async function benchRouter(router: RouterName, out: string): Promise<RouterFigures> {
  const outDir = resolve(out);
  await mkdir(outDir, { recursive: true });
  const parent = await mkdtemp(join(tmpdir(), 'pgh-bench-'));
  await chmod(parent, 0o711);
  const dir = join(parent, 'sandbox');
  // The 1-minute load average before the sandbox starts: what else the machine was doing.
  const loadAtStart = loadavg()[0];
  const { manifest, elapsedMs: upMs } = await sandboxUp({
    dir,
    replicas: Number(flags.replicas),
    router,
    poolers: router === 'pgbouncer' ? Number(flags.poolers) : 1,
  });
  log(`sandbox up in ${fmt(upMs)} ms: ${manifest.nodes.length} nodes + ${router}`);
  try {
    const inventory = await loadInventory(manifest.inventoryFile);
    const app = inventory.poolers[0]!.app!;
    // Clients spread over every pooler, as an application's instances would be.
    const apps = inventory.poolers.map((p) => p.app!);
    const journalDir = join(dir, 'runs');
    // Node's own start-up on this machine now: the floor under --help and --dry-run.
    const nodeMs = await timeNode(5);
    const helpMs = await timeCommand(['--help'], 5);
    const dryRunMs = await timeCommand(['promote', '-i', manifest.inventoryFile, '--dry-run'], 5);
    log(
      `--help ${fmt(summarize(helpMs).median)} ms, promote --dry-run ${fmt(summarize(dryRunMs).median)} ms (medians of 5, node start-up included; node -e 0 alone ${fmt(summarize(nodeMs).median)} ms)`,
    );
    // NODE_EXTRA_CA_CERTS makes node read that bundle at every start (the whole system bundle
    // here: about 100 ms); an operator's shell seldom sets it, so the start-up is also timed without.
    const extraCa = process.env.NODE_EXTRA_CA_CERTS;
    const withoutExtraCa = extraCa
      ? {
          nodeMs: summarize(await timeNode(5, STRIPPED)),
          helpMs: summarize(await timeCommand(['--help'], 5, STRIPPED)),
          dryRunMs: summarize(await timeCommand(['promote', '-i', manifest.inventoryFile, '--dry-run'], 5, STRIPPED)),
        }
      : undefined;
    if (withoutExtraCa)
      log(
        `without NODE_EXTRA_CA_CERTS (${extraCa}): --help ${fmt(withoutExtraCa.helpMs.median)} ms, promote --dry-run ${fmt(withoutExtraCa.dryRunMs.median)} ms, node -e 0 ${fmt(withoutExtraCa.nodeMs.median)} ms`,
      );

    await createLoadTable(app);
    const load = new WriteLoad({ conn: apps, clients: Number(flags.clients), rate: Number(flags.rate) });
    load.start();
    await sleep(Number(flags.settle));
    const runs: Array<Omit<SwitchoverResult, 'client' | 'phases'>> = [];
    const names = manifest.nodes.map((n) => n.name);
    for (let i = 0; i < N; i++) {
      const from = i % 2 === 0 ? names[0]! : names[1]!;
      const to = i % 2 === 0 ? names[1]! : names[0]!;
      const start = load.elapsed();
      const result = await execa(
        'node',
        [BIN, 'promote', '-i', manifest.inventoryFile, '--yes', '--json', '--target', to, '--journal-dir', journalDir],
        { reject: false, stdin: 'ignore' },
      );
      const end = load.elapsed();
      const report = reportOf(result.stdout);
      const journal = await readJournal(journalDir, report.runId);
      const marks = stepMarks(journal, load);
      const stepMs = Object.fromEntries(
        (report.steps ?? []).map((s: { id: string; durationMs?: number }) => [
          s.id.replace(/^\d+-/, ''),
          s.durationMs ?? NaN,
        ]),
      );
      runs.push({
        index: i + 1,
        from,
        to,
        exitCode: result.exitCode ?? -1,
        wallMs: end - start,
        toolPauseMs: report.writePauseMs,
        stepMs,
        marks,
        window: [start, end],
        journal,
      });
      log(
        `switchover ${i + 1}/${N} ${from} -> ${to}: exit ${result.exitCode}, tool pause ${report.writePauseMs ?? '?'} ms`,
      );
      await sleep(Number(flags.settle));
    }
    const outcome = await load.stop();
    const primary = inventory.nodes.find((n) => n.name === runs[runs.length - 1]!.to)!;
    const missingKeys = await missingAcknowledgedKeys({ ...primary.conn, dbname: app.dbname }, outcome.records);
    const results: SwitchoverResult[] = runs.map((r) => ({
      ...r,
      client: clientView(outcome.records, r.window[0], r.window[1] + 1000, missingKeys),
      phases: pauseBreakdown(r.journal, outcome.records, outcome.startedAtEpochMs),
    }));

    printTable(router, results, dryRunMs, helpMs);
    const chartRun = [...results].sort((a, b) => a.client.longestGapMs - b.client.longestGapMs)[
      Math.floor(results.length / 2)
    ]!;
    const chartFile = join(outDir, 'switchover-latency.svg');
    const origin = chartRun.marks[0]?.atMs ?? chartRun.window[0];
    await writeLatencyChart(
      chartFile,
      outcome.records,
      chartRun.marks,
      origin - 150,
      origin + 250,
      `Commit latency around switchover ${chartRun.index} (${chartRun.from} -> ${chartRun.to}) through ${router}, ${flags.clients} clients at ${flags.rate} commits/s`,
    );
    const json = {
      machine: {
        cores: (await import('node:os')).cpus().length,
        node: process.version,
        note: 'shared 2-core VM, loopback; noisy: read medians',
        loadAtStart: loadAtStart,
        loadAtEnd: loadavg()[0],
      },
      settings: {
        router,
        switchovers: N,
        clients: Number(flags.clients),
        rate: Number(flags.rate),
        replicas: Number(flags.replicas),
        poolers: inventory.poolers.length,
      },
      totals: { acknowledged: outcome.acknowledged, errors: outcome.errors, missing: missingKeys.size },
      dryRunMs: summarize(dryRunMs),
      nodeStartMs: summarize(nodeMs),
      ...(withoutExtraCa ? { withoutExtraCa } : {}),
      helpMs: summarize(helpMs),
      longestGapMs: summarize(results.map((r) => r.client.longestGapMs)),
      longestWaitMs: summarize(results.map((r) => r.client.longestWaitMs)),
      toolPauseMs: summarize(results.map((r) => r.toolPauseMs ?? NaN)),
      steps: Object.fromEntries(KEY_STEPS.map((s) => [s, summarize(results.map((r) => r.stepMs[s] ?? NaN))])),
      pauseBreakdownMs: Object.fromEntries(PHASES.map((p) => [p, summarize(results.map((r) => r.phases?.[p] ?? NaN))])),
      switchovers: results.map(({ marks: _m, journal: _j, ...rest }) => rest),
    };
    await writeFile(join(outDir, 'results.json'), `${JSON.stringify(json, null, 2)}\n`);
    log(`results: ${join(outDir, 'results.json')}, chart: ${chartFile}`);
    return {
      router,
      gapMs: results.map((r) => r.client.longestGapMs),
      errors: results.map((r) => r.client.errors),
      missing: results.map((r) => r.client.missing),
      pauseMs: results.map((r) => r.toolPauseMs ?? NaN),
      wallMs: results.map((r) => r.wallMs),
    };
  } finally {
    if (flags.keep) log(`sandbox kept at ${dir} (pg-handover sandbox down --dir ${dir})`);
    else {
      await sandboxDown(dir).catch(() => undefined);
      await rm(parent, { recursive: true, force: true });
    }
  }
}

/** The environment without NODE_EXTRA_CA_CERTS. */
const STRIPPED = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'));

async function timeNode(times: number, env?: NodeJS.ProcessEnv): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    await execa('node', ['-e', '0'], { reject: false, stdin: 'ignore', ...(env ? { env, extendEnv: false } : {}) });
    out.push(performance.now() - t0);
  }
  return out;
}

async function timeCommand(args: string[], times: number, env?: NodeJS.ProcessEnv): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    await execa('node', [BIN, ...args], { reject: false, stdin: 'ignore', ...(env ? { env, extendEnv: false } : {}) });
    out.push(performance.now() - t0);
  }
  return out;
}

/** Step starts from the run's journal, on the load's clock. */
function stepMarks(journal: readonly JournalLine[], load: WriteLoad): StepMark[] {
  const epochToLoad = Date.now() - load.elapsed();
  return journal
    .filter((e) => e.event === 'step-start' && KEY_STEPS.some((s) => String(e.step).endsWith(s)))
    .map((e) => ({ step: String(e.step).replace(/^\d+-/, ''), atMs: Date.parse(e.at) - epochToLoad }));
}

function printTable(router: RouterName, results: SwitchoverResult[], dryRunMs: number[], helpMs: number[]): void {
  const row = (name: string, values: number[], unit = 'ms') => {
    const s = summarize(values);
    return `${name.padEnd(34)} ${fmt(s.median).padStart(8)} ${fmt(s.min).padStart(8)} ${fmt(s.max).padStart(8)}  ${unit}`;
  };
  const lines = [
    '',
    `pg-handover switchover benchmark through ${router}: ${results.length} switchovers, ${flags.clients} clients, ${flags.rate} commits/s, ${flags.replicas} replicas, ${flags.poolers} pooler(s)`,
    `${'metric'.padEnd(34)} ${'median'.padStart(8)} ${'min'.padStart(8)} ${'max'.padStart(8)}`,
    row(
      'longest commit gap (any client)',
      results.map((r) => r.client.longestGapMs),
    ),
    row(
      'longest wait of one commit',
      results.map((r) => r.client.longestWaitMs),
    ),
    row(
      'client-visible errors',
      results.map((r) => r.client.errors),
      'errors',
    ),
    row(
      'acknowledged commits missing',
      results.map((r) => r.client.missing),
      'rows',
    ),
    row(
      'tool write pause (PAUSE..RESUME)',
      results.map((r) => r.toolPauseMs ?? NaN),
    ),
    ...KEY_STEPS.map((s) =>
      row(
        `  step ${s}`,
        results.map((r) => r.stepMs[s] ?? NaN),
      ),
    ),
    row(
      'promote wall time (whole run)',
      results.map((r) => r.wallMs),
    ),
    "where the client gap goes (medians; the journal on the clients' clock, ms resolution):",
    ...PHASES.map((p) =>
      row(
        `  ${p}`,
        results.map((r) => r.phases?.[p] ?? NaN),
      ),
    ),
    row('promote --dry-run wall time', dryRunMs),
    row('pg-handover --help wall time', helpMs),
    `exit codes: ${results.map((r) => r.exitCode).join(' ')}; machine load (1-min average) ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Medians (min-max) of each router's figures, one column per router. */
function printSideBySide(figures: RouterFigures[]): void {
  const cell = (values: number[]) => {
    const s = summarize(values);
    return `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})`.padStart(20);
  };
  const row = (name: string, pick: (f: RouterFigures) => number[]) =>
    `${name.padEnd(34)}${figures.map((f) => cell(pick(f))).join('')}`;
  const lines = [
    '',
    `switchover, side by side: median (min-max) of ${N} switchovers each, ${flags.clients} clients, ${flags.rate} commits/s`,
    `${'metric'.padEnd(34)}${figures.map((f) => f.router.padStart(20)).join('')}`,
    row('longest commit gap (ms)', (f) => f.gapMs),
    row('client-visible errors', (f) => f.errors),
    row('acknowledged commits missing', (f) => f.missing),
    row('tool write pause (ms)', (f) => f.pauseMs),
    row('promote wall time (ms)', (f) => f.wallMs),
    "HAProxy is TCP: each client's session on the old primary is cut, and it reconnects; PgBouncer keeps client connections.",
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

await main();
