/**
 * Acting on a node's host: stop it fast, read its control file, start it, mark it a standby.
 * A local fast stop signals the postmaster and watches its pid every 2 ms and pg_control every
 * 10 ms (pg_ctl -w polls every 100 ms); through a command prefix it uses pg_ctl. A node with
 * service commands (pg_ctlcluster, systemctl) is started and stopped with those instead, and a
 * start without them reuses the options the server was last started with (postmaster.opts), so a
 * config file outside the data directory (the Debian layout) is found again.
 */
import { dirname, join } from 'node:path';
import { StepFailedError, TimeoutError } from '../errors.js';
import type { NodeSpec } from '../inventory/model.js';
import { describeFailure } from '../shell/exec.js';
import type { HostRunner } from '../shell/host.js';
import { commandLine, isAlive, readPidFile, signal, waitGone } from '../shell/processes.js';
import { sleep } from '../util/time.js';
import { readControlFile } from './control-file.js';
import { parseControlData, type ControlData } from './controldata.js';
import { quoteLiteral } from './sql.js';

export const binPath = (node: NodeSpec, name: string): string => (node.binDir ? join(node.binDir, name) : name);

export const stopCommand = (node: NodeSpec, timeoutMs: number): string[] =>
  node.service?.stop
    ? [...node.service.stop]
    : [
        binPath(node, 'pg_ctl'),
        '-D',
        node.dataDir!,
        '-m',
        'fast',
        '-w',
        '-t',
        String(Math.ceil(timeoutMs / 1000)),
        'stop',
      ];
/** `options`: what postmaster.opts says beyond the data directory (shown as a placeholder in the dry run). */
export const startCommand = (
  node: NodeSpec,
  timeoutMs: number,
  options = '<options from postmaster.opts, if any>',
): string[] =>
  node.service?.start
    ? [...node.service.start]
    : [
        binPath(node, 'pg_ctl'),
        '-D',
        node.dataDir!,
        '-l',
        node.logFile ?? join(dirname(node.dataDir!), `${node.name}.log`),
        '-w',
        '-t',
        String(Math.ceil(timeoutMs / 1000)),
        ...(options ? ['-o', options] : []),
        'start',
      ];

/**
 * The server options in postmaster.opts beyond the binary and its data directory, quoted for the
 * shell pg_ctl hands them to; '' when there are none. A value that cannot be quoted safely is refused.
 */
export function optionsFromPostmasterOpts(text: string): string {
  const words = [...text.trim().matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1);
  const kept: string[] = [];
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '-D') i++;
    else kept.push(words[i]!);
  }
  const unsafe = kept.find((w) => /["$`\\]/.test(w));
  if (unsafe)
    throw new StepFailedError(
      `postmaster.opts holds ${JSON.stringify(unsafe)}, which cannot be passed on safely; give the node service commands instead`,
    );
  return kept.map((w) => `"${w}"`).join(' ');
}
export const controlDataCommand = (node: NodeSpec): string[] => [binPath(node, 'pg_controldata'), '-D', node.dataDir!];
export const standbySignalCommand = (node: NodeSpec): string[] => ['touch', join(node.dataDir!, 'standby.signal')];

/** The postmaster's pid when it can be read locally (done before the fence, off the clock). */
export function localPostmasterPid(runner: HostRunner, node: NodeSpec): number | undefined {
  if (!runner.isLocal || !node.dataDir) return undefined;
  try {
    const pid = readPidFile(join(node.dataDir, 'postmaster.pid'));
    return pid && commandLine(pid).includes('postgres') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Requests a fast shutdown and returns once the old primary can no longer write: its postmaster
 * has exited, or pg_control already says "shut down". The shutdown checkpoint is then written and
 * every backend is gone; only walsenders may still wait for a standby to confirm it, up to
 * wal_sender_timeout (a partitioned replica), which must not hold the whole switchover.
 * Returns whether the postmaster has exited. Throws a TimeoutError when neither happens in time.
 */
/** How a stop ended: the postmaster gone, or pg_control seen saying "shut down" (kept, so it is not read twice). */
export interface StopResult {
  readonly exited: boolean;
  readonly control?: ControlData;
}

export async function stopFast(
  runner: HostRunner,
  node: NodeSpec,
  timeoutMs: number,
  pid?: number,
): Promise<StopResult> {
  if (node.service?.stop) return stopWatchingControl(runner, node, timeoutMs);
  if (pid !== undefined && isAlive(pid) && signal(pid, 'SIGINT')) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (!isAlive(pid)) return { exited: true };
      // Every 2 ms, as the pause waits on it: the header of pg_control is 56 bytes from the page cache.
      const control = await readControlFile(node.dataDir!);
      if (control?.state === 'shut down') return { exited: false, control };
      if (performance.now() > deadline) break;
      await sleep(2);
    }
    throw new TimeoutError(
      `${node.name} did not write its shutdown checkpoint within ${timeoutMs} ms (postmaster pid ${pid} still running: hung?)`,
    );
  }
  return stopWatchingControl(runner, node, timeoutMs);
}

/**
 * pg_ctl stop, or the service manager's stop, with pg_control watched meanwhile (read directly
 * when local, pg_controldata through the host runner otherwise): the fence ends when the shutdown
 * checkpoint is written, not when the command's own wait returns, which a walsender waiting for a
 * partitioned replica holds up to wal_sender_timeout.
 */
async function stopWatchingControl(runner: HostRunner, node: NodeSpec, timeoutMs: number): Promise<StopResult> {
  let finished: Awaited<ReturnType<HostRunner['run']>> | undefined;
  const command = runner
    .run(stopCommand(node, timeoutMs), { timeoutMs: timeoutMs + 5000 })
    .then((result) => (finished = result));
  const deadline = performance.now() + timeoutMs;
  while (node.dataDir && finished === undefined && performance.now() < deadline) {
    const control = runner.isLocal
      ? await readControlFile(node.dataDir)
      : await readControlData(runner, node).catch(() => undefined);
    if (finished === undefined && control?.state === 'shut down') return { exited: false, control };
    await sleep(runner.isLocal ? 10 : 20);
  }
  const result = finished ?? (await command);
  if (result.ok) return { exited: true };
  const control = await readControlData(runner, node).catch(() => undefined);
  if (control?.state === 'shut down') return { exited: false, control };
  throw new StepFailedError(
    describeFailure(
      `stopping ${node.name}${node.service?.stop ? ` (${stopCommand(node, timeoutMs).join(' ')})` : ''}`,
      result,
    ),
  );
}

/**
 * Makes sure a postmaster whose shutdown was requested has exited, so it can be started again:
 * waits `graceMs`, then asks for an immediate shutdown (safe: either the shutdown checkpoint is
 * written, or crash recovery at the next start replays every flushed commit). Throws when it
 * still runs after that, e.g. SIGSTOPped or stuck in the kernel on a dead disk.
 */
export async function ensureExited(
  runner: HostRunner,
  node: NodeSpec,
  pid: number | undefined,
  graceMs: number,
): Promise<'exited' | 'forced'> {
  if (pid !== undefined && runner.isLocal) {
    if (await waitGone([pid], graceMs, 5)) return 'exited';
    signal(pid, 'SIGQUIT');
    if (await waitGone([pid], IMMEDIATE_WAIT_MS, 5)) return 'forced';
    throw new StepFailedError(
      `${node.name}: its postmaster (pid ${pid}) did not exit, even after an immediate shutdown request (hung?)`,
    );
  }
  const deadline = performance.now() + graceMs;
  while (await isRunning(runner, node)) {
    if (performance.now() > deadline) {
      const result = await runner.run(immediateStopCommand(node), { timeoutMs: IMMEDIATE_WAIT_MS + 5000 });
      if (!result.ok && (await isRunning(runner, node)))
        throw new StepFailedError(describeFailure(`immediate shutdown of ${node.name}`, result));
      return 'forced';
    }
    await sleep(100);
  }
  return 'exited';
}

const IMMEDIATE_WAIT_MS = 5000;

export const statusCommand = (node: NodeSpec): string[] => [binPath(node, 'pg_ctl'), '-D', node.dataDir!, 'status'];
const immediateStopCommand = (node: NodeSpec): string[] => [
  binPath(node, 'pg_ctl'),
  '-D',
  node.dataDir!,
  '-m',
  'immediate',
  '-w',
  '-t',
  String(IMMEDIATE_WAIT_MS / 1000),
  'stop',
];

/**
 * Stops the node if a postmaster runs on its data directory (fast, then immediate); returns
 * whether one was running. For rejoin: the node must be down before its files are touched.
 */
export async function stopIfRunning(runner: HostRunner, node: NodeSpec, timeoutMs: number): Promise<boolean> {
  const pid = localPostmasterPid(runner, node);
  const running = runner.isLocal ? pid !== undefined && isAlive(pid) : await isRunning(runner, node);
  if (running) {
    await stopFast(runner, node, timeoutMs, pid).catch(() => undefined);
    await ensureExited(runner, node, pid, timeoutMs);
  }
  await waitUnused(runner, node, timeoutMs);
  // No process uses the data directory, so a postmaster.pid left by a kill is stale; its pid may
  // belong to another process by now, which would make the next postgres refuse to start.
  const removed = await runner.run(['rm', '-f', join(node.dataDir!, 'postmaster.pid')], { timeoutMs: 10_000 });
  if (!removed.ok)
    throw new StepFailedError(describeFailure(`removing the stale postmaster.pid of ${node.name}`, removed));
  return running;
}

/**
 * A killed postmaster's backends outlive it for a moment, attached to its shared memory: until
 * they are gone nothing can start on the data directory (pg_rewind's single-user recovery says
 * "single-user mode in target cluster failed"). Server processes keep the data directory as
 * their working directory, which is how they are recognised.
 */
async function waitUnused(runner: HostRunner, node: NodeSpec, timeoutMs: number): Promise<void> {
  const script =
    'for p in /proc/[0-9]*; do [ "$(readlink "$p/cwd" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"; done; true';
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const result = await runner.run(['sh', '-c', script, 'sh', node.dataDir!], { timeoutMs: 10_000 });
    const left = result.stdout.trim();
    if (result.ok && !left) return;
    if (performance.now() > deadline) {
      throw new StepFailedError(
        `${node.name}: processes still use ${node.dataDir} after ${timeoutMs} ms (pid ${left.split('\n').join(', ')}); stop them first`,
      );
    }
    await sleep(100);
  }
}

/** pg_ctl status: exit 0 while a postmaster runs on the data directory, 3 when none does. */
async function isRunning(runner: HostRunner, node: NodeSpec): Promise<boolean> {
  const result = await runner.run(statusCommand(node), { timeoutMs: 10_000 });
  if (result.exitCode === 3) return false;
  if (result.ok) return true;
  throw new StepFailedError(describeFailure(`pg_ctl status on ${node.name}`, result));
}

export async function readControlData(runner: HostRunner, node: NodeSpec): Promise<ControlData> {
  const local = runner.isLocal && node.dataDir ? await readControlFile(node.dataDir) : undefined;
  if (local) return local;
  const result = await runner.run(controlDataCommand(node), { timeoutMs: 10_000, env: { LC_ALL: 'C' } });
  if (!result.ok) throw new StepFailedError(describeFailure(`pg_controldata on ${node.name}`, result));
  return parseControlData(result.stdout);
}

export async function startServer(runner: HostRunner, node: NodeSpec, timeoutMs: number): Promise<void> {
  let options = '';
  if (!node.service?.start) {
    const opts = await runner.run(['cat', join(node.dataDir!, 'postmaster.opts')], { timeoutMs: 10_000 });
    if (opts.ok) options = optionsFromPostmasterOpts(opts.stdout);
  }
  const result = await runner.run(startCommand(node, timeoutMs, options), { timeoutMs: timeoutMs + 5000 });
  if (!result.ok) throw new StepFailedError(describeFailure(`starting ${node.name}`, result));
}

/**
 * A stopped node's standby settings, written where ALTER SYSTEM writes them (postgresql.auto.conf)
 * before it starts: a rewound standby needs WAL from its upstream to become consistent, and so
 * to accept the connection an ALTER SYSTEM would need. The conninfo (it may hold a password)
 * travels in the environment, never on a command line.
 */
export const STANDBY_CONF_SCRIPT =
  'f="$1/postgresql.auto.conf"; touch "$f" && { grep -v -E "^[[:space:]]*(primary_conninfo|primary_slot_name)[[:space:]]*=" "$f"; printf "%s\\n" "$PG_HANDOVER_CONNINFO_LINE"; if [ -n "$PG_HANDOVER_SLOT_LINE" ]; then printf "%s\\n" "$PG_HANDOVER_SLOT_LINE"; fi; } > "$f.pg-handover" && mv "$f.pg-handover" "$f"';

/** The two lines, as ALTER SYSTEM would write them (one value each: the host runner sends the environment line by line). */
export const standbyConfLines = (conninfo: string, slot: string): string[] => [
  `primary_conninfo = ${quoteLiteral(conninfo)}`,
  ...(slot ? [`primary_slot_name = ${quoteLiteral(slot)}`] : []),
];

export async function writeStandbyConf(
  runner: HostRunner,
  node: NodeSpec,
  conninfo: string,
  slot: string,
): Promise<void> {
  const [conninfoLine, slotLine] = standbyConfLines(conninfo, slot);
  const env = { PG_HANDOVER_CONNINFO_LINE: conninfoLine!, PG_HANDOVER_SLOT_LINE: slotLine ?? '' };
  const result = await runner.run(['sh', '-c', STANDBY_CONF_SCRIPT, 'sh', node.dataDir!], { timeoutMs: 10_000, env });
  if (!result.ok)
    throw new StepFailedError(
      describeFailure(`writing primary_conninfo to ${node.name}'s postgresql.auto.conf`, result),
    );
}

export async function markStandby(runner: HostRunner, node: NodeSpec): Promise<void> {
  const result = await runner.run(standbySignalCommand(node), { timeoutMs: 10_000 });
  if (!result.ok) throw new StepFailedError(describeFailure(`writing standby.signal on ${node.name}`, result));
}
