/**
 * The seeded soak: handover after handover on a real sandbox (PostgreSQL, two PgBouncers), under
 * a write load through the poolers, with a fault injected at a random moment of each one. After
 * each: heal, let the cluster settle (bounded), and check the invariants. One seed gives one
 * schedule (fast-check), so a failure is replayed by its seed.
 *
 *   npm run soak -- --seed 42 --duration 60m
 *   npm run soak -- --seed 42 --duration 2m --out soak-results/ci     (CI: a short one, fixed seed)
 *   npm run soak -- --seed 42 --duration 10m --router haproxy         (through HAProxy instead)
 *   npm run soak -- --seed 42 --duration 10m --backend containers     (each host a container: links cut too)
 *
 * Writes history.jsonl (one line per iteration), summary.md and chart.svg to --out; exits 1 when
 * any invariant was broken, naming the iteration and the command that replays it.
 */
import { execa, type ResultPromise } from 'execa';
import fc from 'fast-check';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadInventory } from '../../src/inventory/load.js';
import type { ConnParams, Inventory } from '../../src/inventory/model.js';
import { sandboxDown } from '../../src/sandbox/down.js';
import { sandboxUp } from '../../src/sandbox/up.js';
import type { SandboxManifest } from '../../src/sandbox/manifest.js';
import { signal } from '../../src/shell/processes.js';
import { containerHosts, localHosts, type Heal, type SoakHosts } from './hosts.js';
import { parseDuration, sleep } from '../../src/util/time.js';
import { writeSummary, type Iteration } from './summary.js';
import { checkSet, SoakWorkload, SOAK_TABLE } from './workload.js';

const { values: flags } = parseArgs({
  options: {
    seed: { type: 'string' },
    duration: { type: 'string', default: '10m' },
    out: { type: 'string' },
    only: { type: 'string' },
    /** Stop after this iteration (a replay of a whole history up to a failure: its state included). */
    until: { type: 'string' },
    keep: { type: 'boolean', default: false },
    router: { type: 'string', default: 'pgbouncer' },
    /** Only these faults (comma-separated), to study one: the schedule's others become 'none'. */
    faults: { type: 'string' },
    /** local: processes on this machine; containers: each node and pooler its own host, whose links a fault can cut. */
    backend: { type: 'string', default: 'local' },
  },
});
const BACKEND = flags.backend === 'containers' ? 'containers' : 'local';
if (flags.backend !== BACKEND) throw new Error(`--backend: expected local or containers, got ${flags.backend}`);
if (BACKEND === 'containers' && flags.router === 'haproxy')
  throw new Error('--backend containers: with PgBouncer only (the container sandbox has no HAProxy)');
const ROUTER = flags.router === 'haproxy' ? 'haproxy' : 'pgbouncer';
if (flags.router !== ROUTER) throw new Error(`--router: expected pgbouncer or haproxy, got ${flags.router}`);
const SEED = flags.seed === undefined ? Date.now() % 1_000_000 : Number(flags.seed);
if (!Number.isInteger(SEED)) throw new Error(`--seed: expected an integer, got ${flags.seed}`);
const DURATION_MS = parseDuration(String(flags.duration)) ?? 0;
if (!DURATION_MS) throw new Error(`--duration: expected a duration such as 60m, got ${flags.duration}`);
const OUT = resolve(flags.out ?? join('soak-results', String(SEED)));
const BIN = resolve('bin/pg-handover.js');
const REPLAY_FLAGS = `${flags.faults ? ` --faults ${flags.faults}` : ''}${ROUTER === 'haproxy' ? ' --router haproxy' : ''}${BACKEND === 'containers' ? ' --backend containers' : ''}`;

// ── The schedule ────────────────────────────────────────────────────────────────────────────
const FAULTS = [
  'none',
  'kill-tool',
  'interrupt-tool',
  'closed-stdout',
  'second-run',
  'pooler-reload',
  'stop-receiver',
  'long-transaction',
  'kill-pooler',
  'stop-pooler',
  'kill-replica',
  // The container backend only: a host cut from its peers (replication, the poolers' server
  // connections) or from the tool, for a while.
  'cut-peers',
  'cut-tool',
] as const;
/** This backend's faults: the local one's list (and so its seeds' schedules) is as it was. */
const BACKEND_FAULTS = BACKEND === 'containers' ? FAULTS : FAULTS.slice(0, FAULTS.indexOf('cut-peers'));
type Operation = 'switchover' | 'failover-kill' | 'failover-hang' | 'rolling-restart' | 'check';
type Fault = (typeof FAULTS)[number];
interface Plan {
  readonly operation: Operation;
  /** Which replica (modulo their number) a switchover goes to. */
  readonly pick: number;
  readonly faults: readonly Fault[];
  /** When the fault hits, in ms after the command starts. */
  readonly atMs: number;
}

const planArb: fc.Arbitrary<Plan> = fc.record({
  operation: fc.oneof(
    { weight: 10, arbitrary: fc.constant('switchover' as const) },
    { weight: 3, arbitrary: fc.constant('failover-kill' as const) },
    { weight: 1, arbitrary: fc.constant('failover-hang' as const) },
    { weight: 1, arbitrary: fc.constant('rolling-restart' as const) },
    { weight: 2, arbitrary: fc.constant('check' as const) },
  ),
  pick: fc.nat({ max: 7 }),
  faults: fc.oneof(
    { weight: 4, arbitrary: fc.constant<Fault[]>(['none']) },
    { weight: 5, arbitrary: fc.constantFrom(...BACKEND_FAULTS.slice(1)).map((f) => [f]) },
    // Sometimes two at once, as Patroni's suite does.
    {
      weight: 1,
      arbitrary: fc.uniqueArray(fc.constantFrom(...BACKEND_FAULTS.slice(1)), { minLength: 2, maxLength: 2 }),
    },
  ),
  atMs: fc.integer({ min: 0, max: 1200 }),
});
/** Iteration i's plan: the same for the same seed, whatever ran before it. */
const ONLY_FAULTS = flags.faults?.split(',');
for (const f of ONLY_FAULTS ?? [])
  if (!(BACKEND_FAULTS as readonly string[]).includes(f))
    throw new Error(`--faults: unknown fault ${f} for the ${BACKEND} backend; known: ${BACKEND_FAULTS.join(', ')}`);
const planOf = (i: number): Plan => {
  // Unbiased: fast-check's default bias puts about half the values at a range's ends (a fault at
  // 0 ms or 1,200 ms after the start, rather than at a random moment of the run).
  const plan = fc.sample(fc.noBias(planArb), { seed: SEED * 100_003 + i, numRuns: 1 })[0]!;
  if (!ONLY_FAULTS) return plan;
  // Studying some faults: each iteration gets one of them (chosen by the seed), none of the others.
  const fault = ONLY_FAULTS[(plan.pick + i) % ONLY_FAULTS.length] as Fault;
  return { ...plan, faults: [fault] };
};

// ── The cluster ─────────────────────────────────────────────────────────────────────────────
interface Cluster {
  readonly manifest: SandboxManifest;
  readonly inventory: Inventory;
  readonly dir: string;
  readonly hosts: SoakHosts;
  /** The ready check the last iteration settled on. */
  lastSeen?: CheckView;
}

const conn = (c: Cluster, node: string, dbname = 'appdb'): ConnParams => ({
  ...c.inventory.nodes.find((n) => n.name === node)!.conn,
  dbname,
});

async function ask<T extends object>(params: ConnParams, text: string, timeoutMs = 2000): Promise<T[] | undefined> {
  const client = new pg.Client({
    host: params.host,
    port: params.port,
    user: params.user,
    password: params.password,
    database: params.dbname,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.query<T>(text)).rows;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Nodes that answer as writable primaries, asked directly. */
async function writableNodes(c: Cluster): Promise<string[]> {
  const seen = await Promise.all(
    c.inventory.nodes.map(async (n) => {
      const rows = await ask<{ w: boolean }>(
        conn(c, n.name, 'postgres'),
        "SELECT NOT pg_is_in_recovery() AND current_setting('default_transaction_read_only') = 'off' AS w",
        1000,
      );
      return rows?.[0]?.w ? n.name : undefined;
    }),
  );
  return seen.filter((n): n is string => n !== undefined);
}

async function timelineOf(c: Cluster, node: string): Promise<number | undefined> {
  // What check calls the primary may not be one node's name (no primary, two of them).
  if (!c.inventory.nodes.some((n) => n.name === node)) return undefined;
  const rows = await ask<{ tli: number }>(
    conn(c, node, 'postgres'),
    "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli",
  );
  return rows?.[0]?.tli;
}

/**
 * Every 50 ms: which servers the poolers' clients land on that accept writes (must be at most
 * one). Two answers prove two writers at once only if both came back quickly (each within 25 ms):
 * an answer that waited in a pooler's pause was given later, by whichever server serves then, so
 * such a sample is counted as inconclusive, not as two writers.
 */
class Sampler {
  samples = 0;
  twoWriters = 0;
  inconclusive = 0;
  private stopping = false;
  private loop?: Promise<void>;
  private sessions: pg.Client[] = [];
  /** Sessions that errored or ended: opened again before the next sample. */
  private readonly broken = new WeakSet<pg.Client>();
  constructor(private readonly c: Cluster) {}

  /** One held session per pooler (sampling opens no connections, which a paused pooler would queue). */
  private async reconnect(): Promise<void> {
    this.sessions = await Promise.all(
      this.c.inventory.poolers.map(async (p, i) => {
        const held = this.sessions[i];
        if (held && !this.broken.has(held)) return held;
        const client = new pg.Client({
          host: p.app!.host,
          port: p.app!.port,
          user: p.app!.user,
          password: p.app!.password,
          database: p.app!.dbname,
          connectionTimeoutMillis: 1000,
          query_timeout: 1000,
        });
        client.on('error', () => this.broken.add(client));
        client.on('end', () => this.broken.add(client));
        await client.connect().catch(() => this.broken.add(client));
        return client;
      }),
    );
  }
  start(): void {
    this.loop = (async () => {
      await this.reconnect();
      while (!this.stopping) {
        const answers = await Promise.all(
          this.sessions.map(async (session) => {
            const sent = performance.now();
            const rows = await session
              .query<{ port: number; w: boolean }>(
                "SELECT inet_server_port() AS port, NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off' AS w",
              )
              .then((r) => r.rows)
              .catch(() => undefined);
            return { port: rows?.[0]?.w ? rows[0].port : undefined, tookMs: performance.now() - sent };
          }),
        );
        this.samples++;
        const writers = new Set(answers.map((a) => a.port).filter((p) => p !== undefined));
        if (writers.size > 1) {
          if (answers.every((a) => a.tookMs < 25)) this.twoWriters++;
          else this.inconclusive++;
        }
        // A session the pooler dropped (its server went away) is opened again.
        await this.reconnect();
        await sleep(50);
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await Promise.all(this.sessions.map((c) => c.end().catch(() => undefined)));
  }
}

// ── Running the tool ────────────────────────────────────────────────────────────────────────
interface ToolRun {
  readonly exitCode?: number;
  readonly signal?: string;
  readonly stdout: string;
  readonly stderr: string;
}

function tool(c: Cluster, args: readonly string[], closedStdout = false): ResultPromise {
  const child = execa('node', [BIN, ...args, '-i', c.manifest.inventoryFile], {
    reject: false,
    stdin: 'ignore',
    timeout: 180_000,
  });
  if (closedStdout) child.stdout?.destroy();
  return child;
}

/** What the tool said of its run (--json): a closed record's message, a report's outcome and error, a refusal's failing checks. */
function reasonOf(r: ToolRun): string | undefined {
  const events = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as {
          event?: string;
          message?: string;
          report?: { mode?: string; outcome?: string; error?: string; recovers?: string };
          checks?: Array<{ verdict?: string; id?: string; message?: string }>;
        };
      } catch {
        return {};
      }
    });
  const done = events.find((e) => e.event === 'done');
  if (done) return `done: ${done.message}`;
  const report = events.find((e) => e.event === 'report')?.report;
  if (report) return `${report.mode} ${report.outcome}${report.error ? `: ${report.error}` : ''}`;
  const failing = events
    .flatMap((e) => e.checks ?? [])
    .filter((c) => c.verdict === 'fail')
    .map((c) => `${c.id}: ${c.message}`);
  if (failing.length) return failing.join(' | ');
  return r.stderr.trim().split('\n').filter(Boolean).at(-1);
}

/** " exit N", and unless it succeeded the tool's reason. */
const said = (r: ToolRun): string => {
  const code = r.exitCode ?? r.signal;
  const reason = code === 0 ? undefined : reasonOf(r)?.slice(0, 300);
  return ` exit ${code}${reason ? `: ${reason}` : ''}`;
};

const finished = async (child: ResultPromise): Promise<ToolRun> => {
  const r = await child;
  return {
    exitCode: typeof r.exitCode === 'number' ? r.exitCode : undefined,
    signal: r.signal ?? undefined,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
  };
};

interface CheckView {
  readonly verdict: string;
  readonly primary?: string;
  readonly nodes: Array<{ name: string; up: boolean; role: string; streaming?: boolean }>;
  readonly routers: Array<{ name: string; reachable: boolean; routes: Array<{ node?: string; paused: boolean }> }>;
}

let lastCheckFailure = '';
async function check(c: Cluster): Promise<CheckView | undefined> {
  const r = await finished(tool(c, ['check', '--json']));
  try {
    return JSON.parse(r.stdout) as CheckView;
  } catch {
    lastCheckFailure = `check${said(r)}`;
    return undefined;
  }
}

// ── Faults ──────────────────────────────────────────────────────────────────────────────────
interface Healing {
  /** What a fault froze or cut, undone before settling (each at most once). */
  readonly heals: Heal[];
  /** Processes a fault killed, started again before settling. */
  readonly restart: Array<() => Promise<void>>;
  /** When a replica was killed (performance.now()), and which. */
  killedAt?: number;
  killed?: string;
  readonly others: Array<Promise<unknown>>;
  readonly notes: string[];
}

/** Undone after `ms`, or when healing starts, whichever comes first (never twice). */
function healLater(h: Healing, heal: Heal, ms: number): void {
  let done = false;
  const once: Heal = async () => {
    if (done) return;
    done = true;
    await heal();
  };
  h.heals.push(once);
  h.others.push(sleep(ms).then(once));
}

async function inject(
  fault: Fault,
  plan: Plan,
  c: Cluster,
  child: ResultPromise,
  primary: string,
  h: Healing,
): Promise<void> {
  switch (fault) {
    case 'none':
    case 'closed-stdout':
      return;
    case 'kill-tool':
      if (child.pid) signal(child.pid, 'SIGKILL');
      return;
    case 'interrupt-tool':
      if (child.pid) signal(child.pid, 'SIGINT');
      return;
    case 'second-run': {
      const second = finished(tool(c, ['switchover', '--yes', '--json']));
      h.others.push(second.then((r) => h.notes.push(`second run exit ${r.exitCode ?? r.signal}`)));
      return;
    }
    case 'pooler-reload': {
      const p = c.inventory.poolers[0] as { admin?: ConnParams };
      if (p.admin) await ask(p.admin, 'RELOAD');
      return;
    }
    case 'stop-receiver': {
      const replicas = c.inventory.nodes.filter((n) => n.name !== primary);
      const replica = replicas[(plan.pick >> 1) % replicas.length]!;
      const heal = await c.hosts.stopReceiver(replica.name);
      if (heal) healLater(h, heal, 1500);
      return;
    }
    case 'kill-pooler':
    case 'stop-pooler': {
      // One of the poolers (a crash, or a host that stalls): its clients fail or wait; the run
      // must refuse, roll back, or finish, and never leave two writers.
      const name = c.manifest.poolers[plan.pick % c.manifest.poolers.length]?.name;
      if (ROUTER === 'haproxy' || !name) return;
      if (fault === 'kill-pooler') {
        if (!(await c.hosts.killPooler(name))) return;
        h.restart.push(() => c.hosts.startPooler(name));
      } else {
        const heal = await c.hosts.freezePooler(name);
        if (!heal) return;
        healLater(h, heal, 1500);
      }
      h.notes.push(`${fault} ${name}`);
      return;
    }
    case 'kill-replica': {
      // A replica's postmaster dies (maybe the switchover's target): started again when healing.
      const replicas = c.inventory.nodes.filter((n) => n.name !== primary);
      const replica = replicas[(plan.pick >> 1) % replicas.length]!;
      if (!(await c.hosts.killPostmaster(replica.name))) return;
      h.killedAt = performance.now();
      h.killed = replica.name;
      h.restart.push(() => restartNode(c, replica.name));
      h.notes.push(`kill-replica ${replica.name}`);
      return;
    }
    case 'cut-peers':
    case 'cut-tool': {
      // Any host, the primary included, for 1 to 4 s (a switchover's budget is longer; a failover
      // of a primary cut from the tool must find witnesses that still see it).
      if (!c.hosts.cut) return;
      const hosts = [...c.manifest.nodes.map((n) => n.name), ...c.manifest.poolers.map((p) => p.name)];
      const name = hosts[(plan.pick + plan.atMs) % hosts.length]!;
      const heal = await c.hosts.cut(name, fault === 'cut-peers' ? 'peers' : 'tool');
      healLater(h, heal, 1000 + (plan.atMs % 3000));
      h.notes.push(`${fault} ${name}`);
      return;
    }
    case 'long-transaction': {
      if (!c.inventory.nodes.some((n) => n.name === primary)) return;
      h.others.push(
        ask(
          conn(c, primary),
          `BEGIN; INSERT INTO ${SOAK_TABLE} (id, client) VALUES (-${Date.now() % 1e9}, -1); SELECT pg_sleep(3); ROLLBACK`,
          6000,
        ),
      );
      return;
    }
  }
}

/** How many half-done records the tool has closed as "goal met", as its journals say. */
function goalMetRecords(c: Cluster): number {
  const runs = join(c.dir, '.pg-handover', 'runs');
  if (!existsSync(runs)) return 0;
  return readdirSync(runs)
    .filter((f) => f.endsWith('.jsonl'))
    .reduce((n, f) => n + (readFileSync(join(runs, f), 'utf8').match(/"outcome":"goal-met"/g)?.length ?? 0), 0);
}

/** Starts a killed node again; its orphaned backends may hold shared memory for a moment. */
async function restartNode(c: Cluster, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await c.hosts.startNode(name);
    } catch (e) {
      if (attempt >= 5) throw e;
      await sleep(1000);
    }
  }
}

/** Records the time since the last mark under each name. */
function phaseClock(): ((name: string) => void) & { spent: () => Record<string, number> } {
  const spent: Record<string, number> = {};
  let last = performance.now();
  const mark = (name: string) => {
    const now = performance.now();
    spent[name] = Math.round((spent[name] ?? 0) + now - last);
    last = now;
  };
  return Object.assign(mark, { spent: () => ({ ...spent }) });
}

// ── One iteration ───────────────────────────────────────────────────────────────────────────
async function iterate(c: Cluster, i: number, planned: Plan, load: SoakWorkload, sampler: Sampler): Promise<Iteration> {
  let plan = planned;
  const twoWritersBefore = sampler.twoWriters;
  // Where the iteration's wall time goes (the soak's rate of operations is what these add up to).
  const phase = phaseClock();
  // What the last iteration settled on (a check costs a CLI start-up: asked once per iteration).
  const before = c.lastSeen ?? (await check(c));
  const primary = before?.primary ?? '?';
  // No primary to kill or freeze (the last iteration did not settle): this iteration only checks.
  if (!c.inventory.nodes.some((n) => n.name === primary) && plan.operation.startsWith('failover'))
    plan = { ...plan, operation: 'check' };
  const replicas = (before?.nodes ?? []).filter((n) => n.role === 'replica' && n.streaming).map((n) => n.name);
  const target = replicas.length ? replicas[plan.pick % replicas.length] : undefined;
  const tliBefore = primary === '?' ? undefined : await timelineOf(c, primary);
  const h: Healing = { heals: [], restart: [], others: [], notes: [] };
  const goalMetBefore = goalMetRecords(c);
  phase('before');
  const started = load.now();
  const closed = plan.faults.includes('closed-stdout');
  let child: ResultPromise;
  switch (plan.operation) {
    case 'switchover':
      child = tool(c, ['switchover', ...(target ? ['-t', target] : []), '--yes', '--json'], closed);
      break;
    case 'failover-kill':
      await c.hosts.killPostmaster(primary);
      child = tool(c, ['failover', '--yes', '--json'], closed);
      break;
    case 'failover-hang':
      h.heals.push(await c.hosts.freeze(primary));
      child = tool(c, ['failover', '--yes', '--json'], closed);
      break;
    case 'rolling-restart':
      child = tool(c, ['rolling-restart', '--all', '--yes', '--json'], closed);
      break;
    case 'check':
      child = tool(c, ['check', '--json'], closed);
      break;
  }
  const faults = plan.faults.filter((f) => f !== 'none' && f !== 'closed-stdout');
  const injected = (async () => {
    await sleep(plan.atMs);
    for (const fault of faults) await inject(fault, plan, c, child, primary, h);
  })();
  const run = await finished(child);
  const toolEnded = performance.now();
  // A closed record ("done": the last run's goal was met) moves nothing; with stdout closed only
  // the journals say so (a 'recovered-by' goal-met line more than before the run).
  const closedRecord = run.exitCode === 0 && (/"event":"done"/.test(run.stdout) || goalMetRecords(c) > goalMetBefore);
  if (run.exitCode !== 0) h.notes.push(`run${said(run)}`);
  else if (closedRecord) h.notes.push(`run exit 0: closed a record${run.stdout ? ` (${reasonOf(run)})` : ''}`);
  await injected;
  // A replica killed after the run ended, or the node the run just made primary, is a new
  // incident, not the run's outcome: the exit code says what the tool verified before it.
  const madePrimary = /"primaryNow":"([^"]+)"/.exec(run.stdout)?.[1];
  if (h.killedAt !== undefined && h.killedAt > toolEnded) h.notes.push('kill-replica after the run ended');
  else if (h.killed !== undefined && h.killed === madePrimary && madePrimary !== primary)
    h.notes.push('kill-replica hit the new primary');
  await Promise.all(h.others);
  const ended = load.now();
  // The exit code is judged against what the run left, before anything heals it.
  const writersAfterRun = await writableNodes(c);
  phase('run');

  // Heal: a hung server continues; a killed tool's guardian finishes or undoes its run.
  for (const heal of h.heals) await heal().catch((e: Error) => h.notes.push(`heal: ${e.message.split('\n')[0]}`));
  for (const start of h.restart) await start().catch((e: Error) => h.notes.push(`heal: ${e.message.split('\n')[0]}`));
  // A host its fence_command powered off is powered on again; the tool's rejoin does the rest.
  for (const name of (await c.hosts.powerOn?.()) ?? []) h.notes.push(`heal: powered ${name}'s host on again`);
  phase('heal');
  const settled = await settle(c, h.notes);
  phase('settle');
  const after = settled ?? (await check(c));
  c.lastSeen = settled;
  const writers = await writableNodes(c);
  const servingPrimary = after?.primary;
  const pooled = (after?.routers ?? []).flatMap((r) => r.routes.map((route) => ({ ...route, reachable: r.reachable })));
  const set = writers.length === 1 ? await load.setChecker.check(conn(c, writers[0]!), load.attempts) : undefined;
  const tliAfter = servingPrimary ? await timelineOf(c, servingPrimary) : undefined;
  phase('verify');

  const violations: string[] = [];
  if (writers.length !== 1) violations.push(`${writers.length} writable nodes after settling (${writers.join(', ')})`);
  if (pooled.some((r) => !r.reachable || r.paused || r.node !== servingPrimary))
    violations.push(`a pooler does not send clients to ${servingPrimary}, unpaused: ${JSON.stringify(pooled)}`);
  // A failover of a killed or hung primary on asynchronous replication may lose what no replica
  // received (the tool says so before it acts: "beyond that: unknown"). Those ids are counted
  // apart; an id lost in any other operation is a violation.
  const newlyLost = (set?.lost ?? []).filter((id) => !load.knownLost.has(id));
  for (const id of newlyLost) load.knownLost.add(id);
  const byFailover = plan.operation.startsWith('failover');
  if (newlyLost.length && !byFailover)
    violations.push(`${newlyLost.length} acknowledged ids lost (e.g. ${newlyLost.slice(0, 5).join(', ')})`);
  if (newlyLost.length && byFailover) load.lostToFailovers.push(...newlyLost);
  if (set?.unexpected.length) violations.push(`${set.unexpected.length} ids present that were never attempted`);
  if (tliBefore !== undefined && tliAfter !== undefined && tliAfter < tliBefore)
    violations.push(`timeline went back: ${tliBefore} -> ${tliAfter}`);
  if (!settled) violations.push('the cluster did not settle (check not ready after heal, rejoin and re-runs)');
  if (sampler.twoWriters > twoWritersBefore)
    violations.push(`${sampler.twoWriters - twoWritersBefore} samples with two writers through the poolers at once`);
  violations.push(...exitCodeMismatch(plan, run, primary, target, writersAfterRun, h.notes));

  return {
    seed: SEED,
    iteration: i,
    operation: plan.operation,
    faults: plan.faults,
    atMs: plan.atMs,
    from: primary,
    to: target,
    exitCode: run.exitCode ?? null,
    signal: run.signal ?? null,
    primaryAfter: servingPrimary ?? null,
    longestGapMs: Math.round(load.longestGapMs(started, ended)),
    clientErrors: load.errorsBetween(started, ended),
    clientErrorMessages: load.errorMessagesBetween(started, ended),
    wallMs: Math.round(ended - started),
    phasesMs: phase.spent(),
    lost: set ? newlyLost.length : null,
    lostAllowed: byFailover ? newlyLost.length : 0,
    unexpected: set?.unexpected.length ?? null,
    notes: h.notes,
    violations,
    verdict: violations.length ? 'FAILED' : 'ok',
    replay:
      `npm run soak -- --seed ${SEED} --until ${i}${REPLAY_FLAGS}` +
      ` (or --only ${i}: that iteration alone, on a fresh cluster)`,
  };
}

/**
 * The exit code must say what the run left (observed before healing): 0 moved the primary (or
 * had nothing to do), 3 and 4/6 left no other node writable; 5/7/8 and a killed tool are judged
 * by the state alone (the invariants after settling).
 */
function exitCodeMismatch(
  plan: Plan,
  run: ToolRun,
  from: string,
  to: string | undefined,
  writers: readonly string[],
  notes: readonly string[],
): string[] {
  const code = run.exitCode;
  if (code === undefined || plan.faults.includes('kill-tool')) return [];
  if (notes.includes('kill-replica after the run ended') || notes.includes('kill-replica hit the new primary'))
    return [];
  const said = `${plan.operation} exit ${code}`;
  const seen = `writable now: ${writers.join(', ') || 'none'}`;
  if (plan.operation === 'check') return code === 0 || code === 3 ? [] : [`${said}: check on a healthy cluster`];
  const secondMoved = notes.some((n) => n === 'second run exit 0');
  if (code === 3 || code === 4 || code === 6) {
    // Refused or rolled back: no node but the old primary took writes (unless a second run moved it).
    return writers.every((w) => w === from) || secondMoved
      ? []
      : [`${said} (nothing changed / rolled back); ${seen}, was ${from}`];
  }
  // A closed record (the last run's goal was met: "done") moves nothing.
  const closedRecord = notes.some((n) => n.startsWith('run exit 0: closed a record'));
  if (code === 0 && plan.operation === 'switchover' && to && !secondMoved && !closedRecord)
    return writers.length === 1 && writers[0] === to ? [] : [`${said} (succeeded) to ${to}; ${seen}`];
  if (code === 0 && plan.operation.startsWith('failover'))
    return writers.length === 1 && writers[0] !== from ? [] : [`${said} (succeeded) from ${from}; ${seen}`];
  if (![0, 3, 4, 5, 6, 7, 8].includes(code)) return [`${said}: not an exit code the tool documents`];
  return [];
}

/**
 * Heal until `check` is ready: a node that does not stream is rejoined; a half-done run is
 * closed by running the same kind of command again. Bounded: 90 s.
 */
async function settle(c: Cluster, notes: string[]): Promise<CheckView | undefined> {
  const deadline = performance.now() + 90_000;
  let attempt = 0;
  while (performance.now() < deadline) {
    // A failover run while settling may have powered a host off again (its fence_command).
    for (const name of (await c.hosts.powerOn?.()) ?? []) notes.push(`settle: powered ${name}'s host on again`);
    const view = await check(c);
    if (view?.verdict === 'ready') return view;
    attempt++;
    // What this round ran; when all of it succeeded, the next check comes at once (no wait).
    const notedBefore = notes.length;
    if (view?.verdict === 'split-brain') {
      // A hung primary came back after the failover fenced it at the poolers only: rejoin it.
      const served = view.routers.flatMap((r) => r.routes.map((route) => route.node))[0];
      for (const n of view.nodes.filter((x) => x.role === 'primary' && x.name !== served)) {
        const r = await finished(tool(c, ['rejoin', n.name, '--yes', '--json']));
        notes.push(`settle: rejoin ${n.name} (a second primary)${said(r)}`);
      }
    } else if (view?.primary) {
      for (const n of view.nodes.filter((x) => x.name !== view.primary && !(x.role === 'replica' && x.streaming))) {
        const r = await finished(tool(c, ['rejoin', n.name, '--yes', '--json']));
        notes.push(`settle: rejoin ${n.name}${said(r)}`);
        // What the refusal says to do: a half-done run of another procedure is finished first.
        const first = /run `pg-handover (switchover|failover|rolling-restart)` again to finish/.exec(reasonOf(r) ?? '');
        if (r.exitCode === 3 && first) {
          const done = await finished(
            tool(c, [first[1]!, ...(first[1] === 'rolling-restart' ? ['--all'] : []), '--yes', '--json']),
          );
          notes.push(`settle: ${first[1]} (finishes the half-done run, as the refusal says)${said(done)}`);
          break;
        }
        // What the report says when pg_rewind cannot: re-clone it; the next rejoin closes the record.
        if (r.exitCode !== 0 && /pg_rewind of \S+ failed/.test(reasonOf(r) ?? '')) {
          await c.hosts.killPostmaster(n.name);
          await sleep(500);
          const failed = await c.hosts.reclone(n.name, view.primary).catch((e: Error) => e.message);
          notes.push(
            `settle: re-cloned ${n.name} from ${view.primary}, as the report says${failed ? `: ${failed}` : ''}`,
          );
          const again = await finished(tool(c, ['rejoin', n.name, '--yes', '--json']));
          notes.push(`settle: rejoin ${n.name} after the re-clone${said(again)}`);
        }
      }
      if (view.routers.some((r) => r.routes.some((route) => route.paused || route.node !== view.primary))) {
        const r = await finished(tool(c, ['switchover', '--yes', '--json']));
        notes.push(`settle: switchover (closes a half-done run)${said(r)}`);
      }
    } else if (view?.verdict === 'unreachable') {
      // No primary answers: a failover interrupted before promotion left the cluster as it found
      // it (its guardian undid the fence). What an operator does next: run it again.
      const r = await finished(tool(c, ['failover', '--yes', '--json']));
      notes.push(`settle: failover again (no primary answers)${said(r)}`);
    } else if (attempt > 3) {
      notes.push(`settle: check says ${view?.verdict ?? `nothing (${lastCheckFailure.slice(0, 200)})`}`);
    }
    const ran = notes.slice(notedBefore).filter((n) => / exit \d+/.test(n));
    if (ran.length && ran.every((n) => / exit 0(:|$)/.test(n))) continue;
    await sleep(attempt < 3 ? 1000 : 3000);
  }
  return undefined;
}

// ── Main ────────────────────────────────────────────────────────────────────────────────────
async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const history = join(OUT, 'history.jsonl');
  writeFileSync(history, '');
  const parent = await mkdtemp(join(tmpdir(), 'pgh-soak-'));
  await chmod(parent, 0o711);
  const dir = join(parent, 'sb');
  const started = Date.now();
  // Two PgBouncers (as behind a load balancer), or one HAProxy in TCP mode.
  const { manifest } = await sandboxUp({
    dir,
    replicas: 2,
    poolers: ROUTER === 'haproxy' ? 1 : 2,
    router: ROUTER,
    backend: BACKEND,
  });
  const hosts = BACKEND === 'containers' ? containerHosts(manifest) : localHosts(manifest);
  const c: Cluster = { manifest, inventory: await loadInventory(manifest.inventoryFile), dir, hosts };
  const apps = c.inventory.poolers.map((p) => p.app!);
  await SoakWorkload.prepare(apps[0]!);
  const load = new SoakWorkload(apps);
  const sampler = new Sampler(c);
  const iterations: Iteration[] = [];
  load.start();
  sampler.start();
  try {
    const only = flags.only === undefined ? undefined : Number(flags.only);
    const until = flags.until === undefined ? Infinity : Number(flags.until);
    const more = (i: number) => (only === undefined ? Date.now() - started < DURATION_MS && i <= until : i === only);
    for (let i = only ?? 0; more(i); i++) {
      const plan = planOf(i);
      const it = await iterate(c, i, plan, load, sampler);
      iterations.push(it);
      appendFileSync(history, `${JSON.stringify(it)}\n`);
      process.stdout.write(
        `${String(i).padStart(4)} ${it.operation.padEnd(15)} ${it.faults.join('+').padEnd(28)} exit ${String(it.exitCode ?? it.signal).padEnd(7)} gap ${String(it.longestGapMs).padStart(5)} ms  ${it.verdict}${it.violations.length ? `: ${it.violations.join('; ')}` : ''}\n`,
      );
    }
  } finally {
    await sampler.stop();
    await load.stop();
  }
  const writers = await writableNodes(c);
  const final = writers.length === 1 ? await checkSet(conn(c, writers[0]!), load.attempts) : undefined;
  const result = writeSummary(OUT, {
    seed: SEED,
    durationMs: Date.now() - started,
    iterations,
    counts: load.counts(),
    samples: sampler.samples,
    twoWriterSamples: sampler.twoWriters,
    inconclusiveSamples: sampler.inconclusive,
    finalLost: final ? final.lost.filter((id) => !load.lostToFailovers.includes(id)).length : null,
    lostToFailovers: load.lostToFailovers.length,
    finalUnexpected: final?.unexpected.length ?? null,
    command: `npm run soak -- --seed ${SEED} --duration ${flags.duration}${ROUTER === 'haproxy' ? ' --router haproxy' : ''}${BACKEND === 'containers' ? ' --backend containers' : ''}`,
  });
  process.stdout.write(`\n${result.headline}\nhistory: ${history}\nsummary: ${join(OUT, 'summary.md')}\n`);
  if (!flags.keep) {
    await sandboxDown(dir).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
  } else process.stdout.write(`sandbox kept at ${dir}\n`);
  process.exitCode = result.ok ? 0 : 1;
}

await main();
