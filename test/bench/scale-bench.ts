/**
 * The switchover's client gap as the cluster grows: 8, 100 and 500 client connections through
 * PgBouncer; 1, 2 and 4 poolers; 1, 2 and 4 replicas. One dimension moves at a time from the
 * base (8 clients, 1 pooler, 2 replicas); each point is a fresh sandbox and the switchover
 * benchmark run on it. Prints each figure with its goal and writes scale.svg.
 *
 *   npm run bench:scale -- --switchovers 5
 */
import { execa } from 'execa';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, saveSection, type Summary } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    /** Only these dimensions (comma-separated: clients, poolers, replicas). */
    only: { type: 'string' },
    switchovers: { type: 'string', default: '5' },
    rate: { type: 'string', default: '500' },
    out: { type: 'string', default: 'bench-results' },
  },
});

interface Point {
  readonly clients: number;
  readonly poolers: number;
  readonly replicas: number;
}
const BASE: Point = { clients: 8, poolers: 1, replicas: 2 };
const DIMENSIONS = [
  { key: 'clients', values: [8, 100, 500], label: 'client connections' },
  { key: 'poolers', values: [1, 2, 4], label: 'PgBouncers' },
  { key: 'replicas', values: [1, 2, 4], label: 'replicas' },
] as const;

interface Measured extends Point {
  readonly gap: Summary;
  /** The longest one commit waited: comparable across client counts (a client's gap includes its own interval). */
  readonly wait: Summary;
  readonly pause: Summary;
  readonly errors: number;
  readonly missing: number;
}

const pointName = (p: Point) => `c${p.clients}-p${p.poolers}-r${p.replicas}`;

async function measure(point: Point, outDir: string): Promise<Measured> {
  const out = join(outDir, pointName(point));
  log(`${point.clients} clients, ${point.poolers} pooler(s), ${point.replicas} replica(s) ...`);
  const result = await execa(
    'npx',
    [
      'tsx',
      'test/bench/switchover-bench.ts',
      '--switchovers',
      String(flags.switchovers),
      '--clients',
      String(point.clients),
      '--poolers',
      String(point.poolers),
      '--replicas',
      String(point.replicas),
      '--rate',
      String(flags.rate),
      '--settle',
      '1500',
      '--out',
      out,
    ],
    { reject: false, stdin: 'ignore', stderr: 'inherit' },
  );
  if (result.exitCode !== 0) throw new Error(`switchover bench for ${pointName(point)} exited ${result.exitCode}`);
  const json = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
  const runs = json.switchovers as Array<{ client: { errors: number; missing: number } }>;
  return {
    ...point,
    gap: json.longestGapMs,
    wait: json.longestWaitMs,
    pause: json.toolPauseMs,
    errors: runs.reduce((n, r) => n + r.client.errors, 0),
    missing: runs.reduce((n, r) => n + r.client.missing, 0),
  };
}

async function main(): Promise<void> {
  const outDir = resolve(String(flags.out), 'scale');
  await mkdir(outDir, { recursive: true });
  const loadAtStart = loadavg()[0]!;
  const points = new Map<string, Point>();
  const only = flags.only?.split(',');
  for (const d of DIMENSIONS.filter((x) => !only || only.includes(x.key)))
    for (const v of d.values) points.set(pointName({ ...BASE, [d.key]: v }), { ...BASE, [d.key]: v });
  const measured = new Map<string, Measured>();
  for (const [name, point] of points) measured.set(name, await measure(point, outDir));
  const at = (p: Partial<Point>) => measured.get(pointName({ ...BASE, ...p }));

  // The clients dimension by the longest wait of one commit: with 500 clients sharing the same
  // commits per second, each client commits once a second, and its gap would be that second.
  const median = (p: Partial<Point>, of: 'gap' | 'wait') =>
    measured.get(pointName({ ...BASE, ...p }))?.[of].median ?? NaN;
  const clientsGrowth = median({ clients: 500 }, 'wait') / median({ clients: 8 }, 'wait') - 1;
  const perPooler = (median({ poolers: 4 }, 'gap') - median({ poolers: 1 }, 'gap')) / 3;
  const rows = [...measured.values()].map(
    (m) =>
      `${String(m.clients).padStart(7)} ${String(m.poolers).padStart(7)} ${String(m.replicas).padStart(8)}  ${fmt(m.gap.median).padStart(6)} (${fmt(m.gap.min)}-${fmt(m.gap.max)})`.padEnd(
        50,
      ) +
      `${`${fmt(m.wait.median)} (${fmt(m.wait.min)}-${fmt(m.wait.max)})`.padStart(18)}  ${fmt(m.pause.median).padStart(6)}  ${String(m.errors).padStart(6)}  ${String(m.missing).padStart(7)}`,
  );
  const lines = [
    '',
    `switchover at scale: ${flags.switchovers} switchovers per point, ${flags.rate} commits/s in all, medians (min-max) in ms`,
    `${'clients'.padStart(7)} ${'poolers'.padStart(7)} ${'replicas'.padStart(8)}  ${'longest client gap'.padEnd(22)}  ${'longest wait'.padStart(18)}  ${'pause'.padStart(6)}  ${'errors'.padStart(6)}  ${'missing'.padStart(7)}`,
    ...rows,
    `longest wait growth 8 -> 500 clients: ${fmt(clientsGrowth * 100)}%   (goal: < 10%) ${clientsGrowth < 0.1 ? 'met' : 'NOT met'}`,
    `gap per extra pooler (1 -> 4): ${fmt(perPooler)} ms   (goal: < 20 ms) ${perPooler < 20 ? 'met' : 'NOT met'}`,
    `machine load (1-min average): ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end, ${cpus().length} cores`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  await writeScaleChart(join(outDir, 'scale.svg'), at);
  await saveSection(resolve(String(flags.out)), 'scale', {
    points: [...measured.values()],
    clientsGrowthPct: clientsGrowth * 100,
    perPoolerMs: perPooler,
    load: { start: loadAtStart, end: loadavg()[0] },
  });
  log(`chart: ${join(outDir, 'scale.svg')}`);
}

/** One panel per dimension: the median gap with its min-max range, the other two at the base. */
async function writeScaleChart(file: string, at: (p: Partial<Point>) => Measured | undefined): Promise<void> {
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const values = DIMENSIONS.flatMap((d) =>
    d.values.flatMap((v) => {
      const m = at({ [d.key]: v });
      if (!m) return [];
      // The clients panel by the longest wait of one commit (see Measured.wait), the others by the gap.
      const s = d.key === 'clients' ? m.wait : m.gap;
      return [{ dimension: d.label, x: v, median: s.median, min: s.min, max: s.max }];
    }),
  );
  const spec = vl.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title:
      'Switchover: longest client gap (ms; client connections: longest wait of one commit) as one dimension grows (base: 8 clients, 1 PgBouncer, 2 replicas)',
    data: { values },
    facet: { column: { field: 'dimension', type: 'nominal', title: null } },
    spec: {
      width: 260,
      height: 220,
      layer: [
        {
          mark: { type: 'rule' },
          encoding: {
            x: { field: 'x', type: 'quantitative', scale: { type: 'log' }, title: null },
            y: { field: 'min', type: 'quantitative', title: 'ms' },
            y2: { field: 'max' },
          },
        },
        {
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'x', type: 'quantitative', scale: { type: 'log' } },
            y: { field: 'median', type: 'quantitative' },
          },
        },
      ],
    },
    resolve: { scale: { x: 'independent' } },
  } as never).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  await writeFile(file, await view.toSVG());
  view.finalize();
}

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

await main();
