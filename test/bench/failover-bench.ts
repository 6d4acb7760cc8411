/**
 * The failover benchmark: the primary is killed (SIGKILL) or hung (SIGSTOP) under a write load
 * through PgBouncer, and `pg-handover failover --yes` is started at that moment. Measured from
 * the clients' side: from the command's start to the first commit through the pooler, the
 * errors clients saw, and acknowledged commits lost. Each round gets a fresh sandbox.
 *
 *   npm run bench:failover -- --rounds 5 --clients 8 --rate 500
 *   npm run bench:failover -- --only hung --detection 600ms     (the detection trade-off: a copy of
 *     the failover playbook with that confirm-failure timeout; the probe latencies say what margin it leaves)
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import pg from 'pg';
import type { ConnParams } from '../../src/inventory/model.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadInventory } from '../../src/inventory/load.js';
import { freezeNode, postmasterPid, thawNode } from '../../src/sandbox/control.js';
import { sandboxDown } from '../../src/sandbox/down.js';
import { sandboxUp } from '../../src/sandbox/up.js';
import { createLoadTable, missingAcknowledged, WriteLoad } from '../../src/sandbox/write-load.js';
import { parseDuration, sleep } from '../../src/util/time.js';
import { readFileSync } from 'node:fs';
import { reportOf } from './measure.js';
import { fmt, saveSection, summarize } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '8' },
    rate: { type: 'string', default: '500' },
    out: { type: 'string', default: 'bench-results' },
    /** confirm-failure's timeout for this run (a copy of playbooks/failover.yaml); default: the playbook's. */
    detection: { type: 'string' },
    /** dead or hung: only that kind. */
    only: { type: 'string' },
  },
});
const BIN = resolve('bin/pg-handover.js');
/** The failover playbook's confirm-failure timeout, as playbooks/failover.yaml says. */
const PLAYBOOK_TEXT = readFileSync(resolve('playbooks/failover.yaml'), 'utf8');
const DETECTION_MS = parseDuration(
  flags.detection ?? /kind: confirm-failure\s+timeout: (\S+)/.exec(PLAYBOOK_TEXT)?.[1] ?? '',
)!;
if (!DETECTION_MS) throw new Error(`--detection: expected a duration such as 600ms, got ${flags.detection}`);
const KINDS = (
  [
    { name: 'dead (SIGKILL)', signal: 'SIGKILL', key: 'dead' },
    { name: 'hung (SIGSTOP)', signal: 'SIGSTOP', key: 'hung' },
  ] as const
).filter((k) => !flags.only || k.key === flags.only);
if (!KINDS.length) throw new Error(`--only: expected dead or hung, got ${flags.only}`);

/** The playbook the rounds run: the project's, or a copy with --detection's timeout. */
async function playbookIn(dir: string): Promise<string[]> {
  if (!flags.detection) return [];
  const file = join(dir, 'failover-detection.yaml');
  await writeFile(file, PLAYBOOK_TEXT.replace(/(kind: confirm-failure\s+timeout: )\S+/, `$1${DETECTION_MS}ms`));
  return ['-p', file];
}

interface Round {
  readonly kind: string;
  readonly exitCode: number;
  /** Command start to the first commit through the pooler sent after it. */
  readonly firstCommitMs: number;
  readonly commandMs: number;
  readonly errors: number;
  readonly lost: number;
  readonly target: string;
  readonly possibleLoss: string;
  /** Fresh connection + SELECT 1 to the healthy primary under the load, as the tool's detection probes it (ms). */
  readonly probesMs: number[];
  /** Command start -> run start (CLI, observation, witnesses, decision), -> clients released, -> first commit. */
  readonly phases?: { decide: number; act: number; reconnect: number };
}

/** What the tool's detection sees of a healthy primary under this load: how long a fresh login and a query take. */
async function probeLatencies(conn: ConnParams, forMs: number): Promise<number[]> {
  const out: number[] = [];
  const until = performance.now() + forMs;
  while (performance.now() < until) {
    const started = performance.now();
    const client = new pg.Client({ ...conn, database: conn.dbname, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      out.push(performance.now() - started);
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(10);
  }
  return out;
}

async function round(kind: (typeof KINDS)[number]): Promise<Round> {
  const parent = await mkdtemp(join(tmpdir(), 'pgh-fbench-'));
  await chmod(parent, 0o711);
  const dir = join(parent, 'sandbox');
  const { manifest } = await sandboxUp({ dir, replicas: 2 });
  const pid = postmasterPid(manifest, 'pg1')!;
  const frozen: number[] = [];
  try {
    const inventory = await loadInventory(manifest.inventoryFile);
    const app = inventory.poolers[0]!.app!;
    // The tool records its last sight of the primary; an operator's monitor (`check --watch`) would have.
    await execa('node', [BIN, 'check', '-i', manifest.inventoryFile], { reject: false, stdin: 'ignore' });
    await createLoadTable(app);
    const load = new WriteLoad({ conn: app, clients: Number(flags.clients), rate: Number(flags.rate) });
    load.start();
    const probesMs = await probeLatencies(inventory.nodes[0]!.conn, 1000);
    if (kind.signal === 'SIGKILL') process.kill(pid, 'SIGKILL');
    else frozen.push(...freezeNode(manifest, 'pg1'));
    const start = load.elapsed();
    const playbook = await playbookIn(dir);
    const result = await execa(
      'node',
      [BIN, 'failover', '-i', manifest.inventoryFile, ...playbook, '--yes', '--json'],
      {
        reject: false,
        stdin: 'ignore',
      },
    );
    const end = load.elapsed();
    await sleep(1000);
    const outcome = await load.stop();
    const report = reportOf(result.stdout);
    if (result.exitCode !== 0)
      log(
        `exit ${result.exitCode}:\n${String(result.stdout)
          .split('\n')
          .filter((l) => /FAIL|"verdict":"fail"|error/.test(l))
          .slice(-6)
          .join('\n')}\n${String(result.stderr).split('\n').slice(-25).join('\n')}`,
      );
    const target = String(report.target ?? 'pg2');
    const first = Math.min(...outcome.records.filter((r) => r.ok && r.sentAt > start).map((r) => r.doneAt));
    const node = inventory.nodes.find((n) => n.name === target)!;
    const lost = await missingAcknowledged(
      { ...node.conn, dbname: app.dbname },
      outcome.records.filter((r) => r.doneAt < start || r.ok),
    );
    return {
      kind: kind.name,
      exitCode: result.exitCode ?? -1,
      firstCommitMs: first - start,
      commandMs: end - start,
      errors: outcome.records.filter((r) => !r.ok).length,
      lost,
      target,
      possibleLoss: String(report.possibleLoss ?? ''),
      probesMs,
      phases: await phasesOf(report.journal, outcome.startedAtEpochMs, start, first),
    };
  } finally {
    thawNode(frozen);
    await sandboxDown(dir).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
  }
}

/** Where the time from the command's start to the first commit went, from the run's journal. */
async function phasesOf(
  journal: string | undefined,
  loadEpochMs: number,
  start: number,
  first: number,
): Promise<Round['phases']> {
  if (!journal) return undefined;
  const lines = (await readFile(journal, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { at: string; event: string });
  const at = (event: string) => {
    const line = lines.find((l) => l.event === event);
    return line ? Date.parse(line.at) - loadEpochMs : undefined;
  };
  const runStart = at('run-start');
  const released = at('clients-released');
  if (runStart === undefined || released === undefined) return undefined;
  return { decide: runStart - start, act: released - runStart, reconnect: first - released };
}

async function main(): Promise<void> {
  const outDir = resolve(String(flags.out));
  await mkdir(outDir, { recursive: true });
  const rounds: Round[] = [];
  for (const kind of KINDS) {
    for (let i = 0; i < Number(flags.rounds); i++) {
      const r = await round(kind);
      rounds.push(r);
      log(
        `${kind.name} ${i + 1}/${flags.rounds}: exit ${r.exitCode}, first commit ${fmt(r.firstCommitMs)} ms after the command started, ${r.errors} errors, ${r.lost} lost`,
      );
    }
  }
  const row = (name: string, values: number[], unit = 'ms') => {
    const s = summarize(values);
    return `${name.padEnd(40)} ${fmt(s.median).padStart(8)} ${fmt(s.min).padStart(8)} ${fmt(s.max).padStart(8)}  ${unit}`;
  };
  const lines = [
    '',
    `pg-handover failover benchmark: ${flags.rounds} rounds each, ${flags.clients} clients, ${flags.rate} commits/s, 2 replicas, ${flags.detection ? 'the failover playbook with --detection' : 'playbook defaults'} (detection timeout ${fmt(DETECTION_MS)} ms)`,
    `${'metric'.padEnd(40)} ${'median'.padStart(8)} ${'min'.padStart(8)} ${'max'.padStart(8)}`,
  ];
  for (const kind of KINDS) {
    const of = rounds.filter((r) => r.kind === kind.name);
    lines.push(
      `${kind.name}:`,
      row(
        '  command start -> first commit',
        of.map((r) => r.firstCommitMs),
      ),
      row(
        '  command wall time',
        of.map((r) => r.commandMs),
      ),
      row(
        '  client-visible errors',
        of.map((r) => r.errors),
        'errors',
      ),
      row(
        '  acknowledged commits lost',
        of.map((r) => r.lost),
        'rows',
      ),
      row(
        '  start -> run start (CLI, observe, decide)',
        of.map((r) => r.phases?.decide ?? NaN),
      ),
      row(
        '  run start -> clients released (act)',
        of.map((r) => r.phases?.act ?? NaN),
      ),
      row(
        '  released -> first commit (reconnect)',
        of.map((r) => r.phases?.reconnect ?? NaN),
      ),
      `  exit codes: ${of.map((r) => r.exitCode).join(' ')}`,
    );
  }
  // The detection bound, measured: what a healthy primary under this load takes to answer the tool's probe.
  const probes = rounds.flatMap((r) => r.probesMs).sort((a, b) => a - b);
  const pct = (q: number) => probes[Math.min(probes.length - 1, Math.floor(q * probes.length))] ?? NaN;
  lines.push(
    `detection: a fresh login + SELECT 1 to the healthy primary under this load took p50 ${fmt(pct(0.5))} ms, p99 ${fmt(pct(0.99))} ms, max ${fmt(probes.at(-1) ?? NaN)} ms (${probes.length} probes); the detection timeout is ${fmt(DETECTION_MS)} ms, ${fmt(DETECTION_MS / (probes.at(-1) ?? NaN), 1)}x that max`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  const failover = Object.fromEntries(
    KINDS.map((k) => {
      const of = rounds.filter((r) => r.kind === k.name);
      return [
        k.signal === 'SIGKILL' ? 'dead' : 'hung',
        {
          firstCommitMs: summarize(of.map((r) => r.firstCommitMs)),
          commandMs: summarize(of.map((r) => r.commandMs)),
          errors: summarize(of.map((r) => r.errors)),
          lost: summarize(of.map((r) => r.lost)),
          rounds: of,
        },
      ];
    }),
  );
  // With --detection, its own section: the goals table shows it beside the playbook default's.
  if (flags.detection)
    await saveSection(outDir, 'failoverShortDetection', {
      ...failover,
      detectionMs: DETECTION_MS,
      probeMaxMs: probes.at(-1),
    });
  else await saveSection(outDir, 'failover', failover);
}

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

await main();
