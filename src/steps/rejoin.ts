/**
 * rejoin — a former primary (or a replica that diverged) becomes a replica of the current primary.
 * Stopped first if it runs. Its pg_control says how it stopped and where its last checkpoint is;
 * the current primary's timeline history says where the timelines forked. A clean shutdown
 * checkpoint before the fork needs no rewind: standby.signal, start, stream. Otherwise pg_rewind
 * from the current primary (which finishes a crashed node's recovery first, in single-user mode),
 * with the node's own configuration files kept. If pg_rewind cannot, the report gives the
 * pg_basebackup command that re-clones it. Precondition: one primary, the node has host access.
 * Output: how it came back and its role. Undo: none (the rewind is the point of no return).
 */
import { PromotionNotStartedError, StepFailedError } from '../errors.js';
import { parseConninfo } from '../inventory/dsn.js';
import { peerAddress } from '../inventory/model.js';
import { formatLsn, maxLsn, parseLsn, type Lsn } from '../model/lsn.js';
import { duration, stepParams } from '../playbook/fields.js';
import { slotNameFor } from '../postgres/conninfo.js';
import {
  binPath,
  controlDataCommand,
  markStandby,
  readControlData,
  standbySignalCommand,
  startCommand,
  startServer,
  stopIfRunning,
} from '../postgres/server-control.js';
import { DROP_OWN_SLOTS_SQL, quoteLiteral } from '../postgres/sql.js';
import { describeFailure } from '../shell/exec.js';
import { sleep } from '../util/time.js';
import type { HostRunner } from '../shell/host.js';
import {
  followActions,
  memberSlots,
  rejoinUpstream,
  standbyBeforeStartActions,
  waitStreaming,
  waitStreamingText,
} from './upstream.js';
import { shellText, sqlText, type OutputOf, type PlanContext, type StepContext, type StepDefinition } from './types.js';

const schema = stepParams('rejoin', {
  stop_timeout: duration('30s'),
  rewind_timeout: duration('30m'),
  start_timeout: duration('60s'),
  stream_timeout: duration('60s'),
});
type Out = OutputOf<typeof schema>;

/** Files pg_rewind would overwrite with the source's: the node keeps its own (its port, its pg_hba). */
const OWN_FILES = ['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf', 'postmaster.opts'];
const HISTORY_SQL = "SELECT pg_read_file('pg_wal/' || $1 || '.history') AS history";

export const rejoinStep: StepDefinition<typeof schema> = {
  schema,
  pointOfNoReturn: true,
  title: (_s, plan) => `rejoin ${plan.primary.name} as a replica of ${plan.target.name}`,
  actions(step, plan) {
    const node = plan.primary;
    const { slot, conninfo } = rejoinUpstream(plan);
    return [
      {
        text: `[${node.name}] stop it if it runs (fast shutdown, immediate after ${step.stop_timeout} ms); wait until no server process uses ${node.dataDir ?? 'its data directory'}, then remove a stale postmaster.pid`,
        noReturn: () => ({ node: node.name }),
        run: async (ctx, out) => {
          // Its host answers first: a host that does not (powered off, its container stopped)
          // means nothing was touched, so the run stops before its point of no return.
          const reached = await runnerOf(ctx).run(['test', '-d', node.dataDir!], { timeoutMs: 10_000 });
          if (!reached.ok)
            throw new PromotionNotStartedError(
              `${describeFailure(`reaching ${node.name}'s data directory through its host_access`, reached)}; nothing was changed`,
            );
          const stopped = await stopIfRunning(runnerOf(ctx), node, step.stop_timeout);
          // Until it streams, that is all it is: never "primary" in a report.
          out.role = 'stopped for the rejoin, not streaming yet';
          return stopped ? `${node.name} stopped` : `${node.name} was not running`;
        },
      },
      {
        text: `${shellText(node.name, controlDataCommand(node))}; ${sqlText(plan.target.name, HISTORY_SQL.replace('$1', `'<timeline ${plan.targetObs?.timeline ?? '?'}>'`))}  (cleanly shut down with its last checkpoint before the fork: no rewind)`,
        run: async (ctx, out) => {
          const control = await readControlData(runnerOf(ctx), node);
          const fork = await forkPoint(ctx, control.timeline);
          // A standby on the current primary's timeline needs no rewind. A crashed standby is never
          // given to pg_rewind (its single-user crash recovery refuses standby.signal, and without
          // it would write WAL of its own): it recovers in standby mode; should it not stream,
          // the next run stops it cleanly first and rewinds it ("shut down in recovery").
          const current = ctx.targetObs?.timeline;
          const onCurrent =
            current !== undefined && (control.timeline === current || control.minRecoveryTimeline === current);
          const beforeFork = control.checkpointLsn !== undefined && fork !== undefined && control.checkpointLsn < fork;
          const clean =
            (control.state === 'in archive recovery' && (onCurrent || beforeFork)) ||
            (control.state === 'shut down in recovery' && onCurrent) ||
            (control.state === 'shut down' && beforeFork);
          out.how = clean ? 'no rewind needed' : 'pg_rewind';
          out.detail = `pg_control: "${control.state}", checkpoint ${formatLsn(control.checkpointLsn)} on timeline ${control.timeline ?? '?'}; fork ${fork === undefined ? 'unknown' : formatLsn(fork)}`;
          // What the rewind throws away: the node's own WAL past the fork (as far as it is known).
          const end = maxLsn(control.checkpointLsn, ctx.primaryObs?.flushLsn);
          if (!clean && fork !== undefined && end !== undefined && end > fork)
            out.discarded = {
              from: formatLsn(fork),
              to: formatLsn(end),
              bytes: Number(end - fork),
              timeline: control.timeline,
            };
          return `${out.how}: ${out.detail}`;
        },
      },
      {
        // pg_rewind reads the source's timeline from its pg_control, which a just-promoted server updates only at its next checkpoint.
        text: `${sqlText(plan.target.name, 'CHECKPOINT')}  (only if a rewind is needed: pg_rewind reads the timeline from pg_control)`,
        run: async (ctx, out) => {
          if (out.how === 'pg_rewind')
            await (await ctx.connections.node(ctx.target.name)).query('CHECKPOINT', [], step.rewind_timeout);
        },
      },
      {
        text:
          `${shellText(node.name, rewindCommand(plan))}  (only if a rewind is needed; ${OWN_FILES.join(', ')} kept)\n` +
          `  its own writes after the fork are discarded${plan.primaryObs?.flushLsn !== undefined ? ` (its WAL ends at ${formatLsn(plan.primaryObs.flushLsn)} now)` : ''}; to read them first: ${binPath(node.binDir ? node : plan.target, 'pg_waldump')} -p ${node.dataDir ?? '<data_dir>'}/pg_wal -s <the fork point, in ${plan.target.name}'s pg_wal/*.history>`,
        run: async (ctx, out) => {
          if (out.how !== 'pg_rewind') return undefined;
          const said = await rewind(ctx, step.rewind_timeout).catch((error: Error) => {
            throw new StepFailedError(`${error.message} (${out.detail})`);
          });
          const d = out.discarded;
          ctx.log.notes.push(
            d
              ? `${node.name}'s own writes after the fork were discarded by pg_rewind: its WAL from ${d.from} to at least ${d.to} (${d.bytes} bytes) on timeline ${d.timeline ?? '?'}; a dry run names the pg_waldump command to read them before a rejoin`
              : `${node.name}'s own writes after the fork (if any) were discarded by pg_rewind; the fork point could not be read`,
          );
          return said;
        },
      },
      // Before it starts, not after: a rewound node replays WAL from its upstream before it accepts a connection.
      ...standbyBeforeStartActions<Out>(plan.target, node, conninfo, slot, 'before it starts'),
      { text: shellText(node.name, standbySignalCommand(node)), run: async (ctx) => markStandby(runnerOf(ctx), node) },
      {
        text: shellText(node.name, startCommand(node, step.start_timeout)),
        run: async (ctx) => startServer(runnerOf(ctx), node, step.start_timeout),
      },
      ...followActions<Out>(plan, node, conninfo, slot),
      {
        text: sqlText(
          node.name,
          DROP_OWN_SLOTS_SQL.replace('$1', `ARRAY[${memberSlots(plan).map(quoteLiteral).join(', ')}]`),
        ),
        run: async (ctx) => {
          // A replica must not hold WAL for the cluster's members: they stream from the primary.
          await (
            await ctx.connections.node(node.name)
          )
            .query(DROP_OWN_SLOTS_SQL, [memberSlots(plan)])
            .catch(() => undefined);
        },
      },
      {
        text: waitStreamingText(plan, node),
        run: async (ctx, out) => {
          await waitStreaming(ctx, node, step.stream_timeout, ctx.targetObs?.timeline);
          ctx.noReturn.confirmed = true;
          out.role = `replica streaming from ${ctx.target.name} (${out.how})`;
          return `${node.name} streams from ${ctx.target.name} (${out.how}; ${out.detail})`;
        },
      },
    ];
  },
};

function runnerOf(ctx: StepContext): HostRunner {
  const runner = ctx.host(ctx.primary);
  if (!runner)
    throw new StepFailedError(
      `${ctx.primary.name} has no host_access: it cannot be stopped, rewound or started from here`,
    );
  return runner;
}

/** Where the current primary's timeline left `timeline` (its history file), or undefined when it cannot be read. */
async function forkPoint(ctx: StepContext, timeline: number | undefined): Promise<Lsn | undefined> {
  const current = ctx.targetObs?.timeline;
  if (timeline === undefined || current === undefined || current <= timeline) return undefined;
  const name = current.toString(16).toUpperCase().padStart(8, '0');
  const rows = await (
    await ctx.connections.node(ctx.target.name)
  )
    .query<{ history: string }>(HISTORY_SQL, [name])
    .catch(() => []);
  const line = (rows[0]?.history ?? '')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((parts) => Number(parts[0]) === timeline);
  return line ? parseLsn(line[1]) : undefined;
}

/** pg_rewind's connection to the source: the inventory's login (its password goes in the environment, never on the command line). */
const sourceServer = (plan: Pick<PlanContext, 'target'>): string => {
  const { user, dbname } = plan.target.conn;
  const { host, port } = peerAddress(plan.target);
  return `host=${host} port=${port} user=${user} dbname=${dbname}`;
};

const rewindCommand = (plan: Pick<PlanContext, 'primary' | 'target'>): string[] => [
  binPath(plan.primary.binDir ? plan.primary : plan.target, 'pg_rewind'),
  '--target-pgdata',
  plan.primary.dataDir ?? '<data_dir>',
  '--source-server',
  sourceServer(plan),
];

async function rewind(ctx: StepContext, timeoutMs: number): Promise<string> {
  const runner = runnerOf(ctx);
  const dataDir = ctx.primary.dataDir!;
  const keep = await runner.run(['mktemp', '-d', '/tmp/pg-handover-rejoin-XXXXXX'], { timeoutMs: 10_000 });
  if (!keep.ok) throw new StepFailedError(describeFailure('mktemp for the configuration files', keep));
  const saved = keep.stdout.trim();
  const copyAll = (from: string, to: string) =>
    runner.run(
      [
        'sh',
        '-c',
        `for f in ${OWN_FILES.join(' ')}; do if [ -e "$1/$f" ]; then cp -p "$1/$f" "$2/$f" || exit 1; fi; done`,
        'sh',
        from,
        to,
      ],
      { timeoutMs: 30_000 },
    );
  const before = await copyAll(dataDir, saved);
  if (!before.ok) throw new StepFailedError(describeFailure('saving the configuration files', before));
  const password = ctx.target.conn.password;
  const env = { ...(password ? { PGPASSWORD: password } : {}), ...tlsEnv(ctx), LC_ALL: 'C' };
  let result = await runner.run(rewindCommand(ctx), { timeoutMs, env });
  // Its single-user crash recovery can find the data directory still held for a moment after a
  // kill (seen under load); it changed nothing then, so it is asked again, twice at most.
  for (
    let attempt = 1;
    !result.ok && attempt <= 2 && /single-user mode in target cluster failed/.test(result.stderr);
    attempt++
  ) {
    ctx.record('pg_rewind-retry', { attempt, output: result.stderr.split('\n').slice(-12).join(' / ') });
    await sleep(1000 * attempt);
    result = await runner.run(rewindCommand(ctx), { timeoutMs, env });
  }
  const after = await copyAll(saved, dataDir);
  await runner.run(['rm', '-rf', saved], { timeoutMs: 10_000 });
  ctx.record('pg_rewind', {
    ok: result.ok,
    exitCode: result.exitCode,
    output: (result.stderr || result.stdout).split('\n').slice(-12).join(' / '),
  });
  if (!result.ok) {
    ctx.log.leftToDo.push(
      `pg_rewind could not rewind ${ctx.primary.name}; re-clone it instead: move ${dataDir} aside, then ${reclone(ctx).join(' ')}, and start it`,
    );
    throw new StepFailedError(describeFailure(`pg_rewind of ${ctx.primary.name}`, result));
  }
  if (!after.ok)
    throw new StepFailedError(
      describeFailure(`restoring ${ctx.primary.name}'s configuration files from ${saved}`, after),
    );
  const said = (result.stderr || result.stdout).split('\n').find((l) => /diverged|no rewind required/i.test(l));
  return `rewound${said ? ` (${said.replace(/^pg_rewind:\s*/, '')})` : ''}`;
}

/** The libpq TLS settings of the inventory's DSN, for pg_rewind's connection. */
function tlsEnv(ctx: StepContext): Record<string, string> {
  const extra = ctx.target.conn.extra;
  const map: Record<string, string> = {
    sslmode: 'PGSSLMODE',
    sslrootcert: 'PGSSLROOTCERT',
    sslcert: 'PGSSLCERT',
    sslkey: 'PGSSLKEY',
    connect_timeout: 'PGCONNECT_TIMEOUT',
  };
  return Object.fromEntries(Object.entries(map).flatMap(([key, env]) => (extra[key] ? [[env, extra[key]]] : [])));
}

/** The re-clone command, for when a rewind is impossible (no checksums or wal_log_hints, WAL gone). */
function reclone(ctx: StepContext): string[] {
  const info = parseConninfo(ctx.replication.conninfo || '');
  return [
    binPath(ctx.primary.binDir ? ctx.primary : ctx.target, 'pg_basebackup'),
    '-h',
    peerAddress(ctx.target).host,
    '-p',
    String(peerAddress(ctx.target).port),
    '-U',
    info.user ?? '<replication user>',
    '-D',
    ctx.primary.dataDir!,
    '-X',
    'stream',
    '-R',
    ...(ctx.replication.usesSlots ? ['-C', '-S', slotNameFor(ctx.primary.name)] : []),
  ];
}
