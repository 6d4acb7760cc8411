/**
 * Exercises the host runner of a node the run will act on, before anything changes: the same
 * prefix (ssh, sudo, run_as) and the same paths the fence and the rejoin will use. A wrong
 * data_dir, a prefix that cannot run, a run_as that is not honoured or a data directory the run
 * cannot write show up here, not at the fence.
 */
import { dirname, join } from 'node:path';
import type { NodeSpec } from '../inventory/model.js';
import { binPath, optionsFromPostmasterOpts } from '../postgres/server-control.js';
import { describeFailure } from '../shell/exec.js';
import { hostRunnerFor, type HostRunner } from '../shell/host.js';
import { currentUser, isRoot } from '../shell/os-user.js';
import type { BinariesVersion, HostProbe, NodeBinaries } from '../model/cluster-state.js';
import { versionNumOf, versionText } from '../model/node.js';

/** A node the old primary may stream from after a switchover, and the exact primary_conninfo it would use. */
export interface StreamTarget {
  readonly name: string;
  readonly conninfo: string;
}

/**
 * `streamTargets`: the replicas it may follow after a switchover, each with the primary_conninfo
 * it would get (the replicas' own, pointed there). Proven by doing it: a replication connection
 * from its host, as its OS user, with exactly that conninfo (IDENTIFY_SYSTEM). That finds a
 * passfile that is missing where a password is needed, and a pg_hba.conf that rejects its
 * address; and it does not refuse a passfile= that names no file where none is needed (trust,
 * cert or peer authentication, as `pg_basebackup -R` leaves it).
 */
export async function probeHost(
  node: NodeSpec,
  serverDataDir: string | undefined,
  streamTargets: readonly StreamTarget[] = [],
): Promise<HostProbe> {
  const problems: string[] = [];
  const access = node.hostAccess;
  if (!access) return { node: node.name, problems };
  if (!node.dataDir)
    return {
      node: node.name,
      problems: ['no data_dir in the inventory, and the server did not say (SHOW data_directory)'],
    };
  if (access.kind === 'local' && access.runAs && !isRoot() && currentUser() !== access.runAs) {
    problems.push(
      `host_access.run_as is ${access.runAs}, but pg-handover runs as ${currentUser()} (not root), so it cannot act as ${access.runAs}`,
    );
  }
  let runner: HostRunner | undefined;
  try {
    runner = hostRunnerFor(node);
  } catch (error) {
    return { node: node.name, problems: [...problems, (error as Error).message] };
  }
  if (!runner) return { node: node.name, problems };
  const dataDir = node.dataDir;
  const pidFile = join(dataDir, 'postmaster.pid');
  const optsFile = join(dataDir, 'postmaster.opts');
  const services = [node.service?.start, node.service?.stop].filter((c): c is readonly string[] => c !== undefined);
  // postmaster.opts first: it names the binary the server runs, so its bin directory when the inventory names none.
  const opts = await runner.run(['cat', optsFile], { timeoutMs: 10_000 });
  const binDir = opts.ok && !node.binDir ? binDirFromPostmasterOpts(opts.stdout) : undefined;
  const bin = { ...node, binDir: node.binDir ?? binDir };
  const [pid, writable, pgCtl, controlData, same, readable, ...found] = await Promise.all([
    runner.run(['cat', pidFile], { timeoutMs: 10_000 }),
    runner.run(['test', '-w', dataDir], { timeoutMs: 10_000 }),
    runner.run([binPath(bin, 'pg_ctl'), '--version'], { timeoutMs: 10_000 }),
    runner.run([binPath(bin, 'pg_controldata'), '--version'], { timeoutMs: 10_000 }),
    serverDataDir && serverDataDir !== dataDir
      ? runner.run(['test', dataDir, '-ef', serverDataDir], { timeoutMs: 10_000 })
      : undefined,
    Promise.all(
      streamTargets.map((target) =>
        runner.run(
          [
            'sh',
            '-c',
            'exec "$1" -X -A -t -c IDENTIFY_SYSTEM "$PG_HANDOVER_CONNINFO replication=true"',
            'sh',
            binPath(bin, 'psql'),
          ],
          { timeoutMs: 10_000, env: { PG_HANDOVER_CONNINFO: target.conninfo } },
        ),
      ),
    ),
    ...services.map((command) =>
      runner.run(['sh', '-c', 'command -v "$1"', 'sh', programOf(command)], { timeoutMs: 10_000 }),
    ),
  ]);
  const via =
    access.kind === 'local' ? `locally${access.runAs ? ` as ${access.runAs}` : ''}` : `via ${access.command.join(' ')}`;
  // Where the server writes its output now (pg_ctl -l, or a service's file): a restart keeps writing there.
  const postmaster = pid.ok ? /^\d+/.exec(pid.stdout.trim())?.[0] : undefined;
  const stderr =
    postmaster && !node.logFile
      ? await runner.run(['readlink', `/proc/${postmaster}/fd/2`], { timeoutMs: 10_000 })
      : undefined;
  const logFile = stderr?.ok && /^\/(?!dev\/|proc\/)/.test(stderr.stdout.trim()) ? stderr.stdout.trim() : undefined;
  if (!pid.ok) problems.push(describeFailure(`reading ${pidFile} ${via}`, pid));
  else if (!writable.ok) problems.push(`${dataDir} is not writable ${via} (standby.signal goes there)`);
  if (!pgCtl.ok) problems.push(describeFailure(`running ${binPath(bin, 'pg_ctl')} ${via}`, pgCtl));
  if (!controlData.ok) problems.push(describeFailure(`running ${binPath(bin, 'pg_controldata')} ${via}`, controlData));
  if (same && !same.ok)
    problems.push(`data_dir ${dataDir} is not the server's data directory ${serverDataDir} (SHOW data_directory)`);
  // A start without service commands reuses the options the server was started with.
  if (!node.service?.start && !opts.ok)
    problems.push(describeFailure(`reading ${optsFile} ${via} (the options to start it with)`, opts));
  else if (!node.service?.start) {
    try {
      optionsFromPostmasterOpts(opts.stdout);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  const streams = Object.fromEntries(
    readable.map((result, i) => [
      streamTargets[i]!.name,
      result.ok
        ? undefined
        : describeFailure(
            `a replication connection to ${streamTargets[i]!.name} with the primary_conninfo ${node.name} will stream with after the switchover (the replicas', pointed there), ${via}`,
            result,
          ),
    ]),
  );
  found.forEach((result, i) => {
    if (!result.ok)
      problems.push(`service command ${services[i]!.join(' ')}: ${programOf(services[i]!)} not found ${via}`);
  });
  return { node: node.name, problems, binDir, logFile, streams };
}

/**
 * What `postgres --version` says on the node's host: in its bin directory (the inventory's, or
 * the running server's from postmaster.opts) and, for a rolling restart, in `nextDir`.
 * Packages upgraded under a running server leave it older than its binaries on disk.
 */
export async function probeBinaries(node: NodeSpec, nextDir?: string): Promise<NodeBinaries | undefined> {
  let runner: HostRunner | undefined;
  try {
    runner = hostRunnerFor(node);
  } catch {
    return undefined;
  }
  if (!runner) return undefined;
  // The binaries the server runs, read from the server (/proc/<postmaster>/exe) when the inventory
  // names none; and, as needrestart does, whether it maps files deleted since it started (a
  // library or binary patched under it).
  const running = node.dataDir ? await runningBinaries(runner, node.dataDir) : undefined;
  let dir = node.binDir ?? running?.dir;
  if (!dir && node.dataDir) {
    const opts = await runner.run(['cat', join(node.dataDir, 'postmaster.opts')], { timeoutMs: 10_000 });
    dir = opts.ok ? binDirFromPostmasterOpts(opts.stdout) : undefined;
  }
  const version = async (at: string): Promise<BinariesVersion> => {
    const result = await runner.run([join(at, 'postgres'), '--version'], { timeoutMs: 10_000 });
    const versionNum = result.ok ? versionNumOf(result.stdout) : undefined;
    return versionNum
      ? { dir: at, version: versionText(versionNum), versionNum }
      : {
          dir: at,
          error: result.ok
            ? `unexpected output: ${result.stdout.slice(0, 80)}`
            : describeFailure(`${join(at, 'postgres')} --version`, result),
        };
  };
  if (!dir)
    return nextDir
      ? {
          dir: '?',
          error: 'its bin directory is unknown (no bin_dir, no postmaster.opts)',
          next: await version(nextDir),
        }
      : undefined;
  const [own, next] = await Promise.all([version(dir), nextDir ? version(nextDir) : undefined]);
  return { ...own, ...(next ? { next } : {}), ...(running?.deleted.length ? { deleted: running.deleted } : {}) };
}

/** The running postmaster's executable directory and the deleted libraries or binary it still maps (a few named; not shared memory, which maps as deleted too). */
const RUNNING_SCRIPT =
  'pid=$(head -n 1 "$1/postmaster.pid") && exe=$(readlink "/proc/$pid/exe") && echo "$exe" && grep " (deleted)$" "/proc/$pid/maps" | awk \'{print $6}\' | grep -E "\\.so([.0-9]*)?$|/postgres$" | sort -u | head -n 5';

async function runningBinaries(
  runner: HostRunner,
  dataDir: string,
): Promise<{ dir: string; deleted: string[] } | undefined> {
  const result = await runner.run(['sh', '-c', RUNNING_SCRIPT, 'sh', dataDir], { timeoutMs: 10_000 });
  const [exe, ...deleted] = result.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (!exe?.startsWith('/')) return undefined;
  // A binary replaced under it reads "…/postgres (deleted)": still its directory.
  return {
    dir: dirname(exe.replace(/ \(deleted\)$/, '')),
    deleted: [...(/ \(deleted\)$/.test(exe) ? [exe.replace(/ \(deleted\)$/, '')] : []), ...deleted],
  };
}

/** The directory of the binary the postmaster was started as: its first word. */
function binDirFromPostmasterOpts(text: string): string | undefined {
  const binary = /^\s*"?([^"\s]+)"?/.exec(text)?.[1];
  return binary?.startsWith('/') ? dirname(binary) : undefined;
}

/** The program a command runs, past an `env VAR=value …` prefix. */
const programOf = (command: readonly string[]): string => {
  const words = command[0] === 'env' ? command.slice(1) : command;
  return words.find((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) ?? command[0]!;
};
