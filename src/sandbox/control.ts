/** Starting a sandbox's processes again after a fault test stopped or killed them. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { describeFailure, run, type RunOptions } from '../shell/exec.js';
import { runAsIdentity } from '../shell/os-user.js';
import { childrenOf, isAlive, readPidFile, signal } from '../shell/processes.js';
import { appendFile, readFile, rm } from 'node:fs/promises';
import { sleep } from '../util/time.js';
import type { SandboxManifest, SandboxNode, SandboxPooler } from './manifest.js';
import { nodeOverrides, SANDBOX_USERS } from './files.js';
import { BIND_FAILED, onFreePort, PortTakenError } from './ports.js';

const sizeOf = (file: string): number => (existsSync(file) ? statSync(file).size : 0);
/** What a log gained since `offset` (a daemon's own log: its bind failure is there, not on stderr). */
const logSince = async (file: string, offset: number): Promise<string> =>
  existsSync(file) ? (await readFile(file)).subarray(offset).toString() : '';

export const postmasterPid = (manifest: SandboxManifest, node: string): number | undefined =>
  readPidFile(join(manifest.nodes.find((n) => n.name === node)!.dataDir, 'postmaster.pid'));

const poolerOf = (manifest: SandboxManifest, name: string) => manifest.poolers.find((p) => p.name === name)!;

export const pgbouncerPid = (manifest: SandboxManifest, name = 'pgbouncer'): number | undefined =>
  readPidFile(poolerOf(manifest, name).pidFile);

/** Starts a PgBouncer daemon from its config file and waits for its pid file. */
export async function launchPgBouncer(
  bin: string,
  pooler: Pick<SandboxPooler, 'name' | 'configFile' | 'pidFile' | 'logFile'>,
  identity: RunOptions,
): Promise<void> {
  const offset = sizeOf(pooler.logFile);
  const result = await run([bin, '-d', pooler.configFile], { ...identity, timeoutMs: 10_000 });
  if (!result.ok) throw new EnvironmentError(describeFailure(`start ${pooler.name}`, result));
  const deadline = Date.now() + 10_000;
  while (!existsSync(pooler.pidFile)) {
    // -d: the daemon binds after it has detached, so a taken port shows only in its log.
    const log = await logSince(pooler.logFile, offset);
    if (/nowhere to listen/.test(log) && BIND_FAILED.test(log))
      throw new PortTakenError(`${pooler.name}: port taken (${pooler.logFile})`);
    if (Date.now() > deadline) throw new EnvironmentError(`${pooler.name} did not start; see ${pooler.logFile}`);
    await sleep(10);
  }
}

export async function launchNode(pgBin: string, node: SandboxNode, identity: RunOptions): Promise<void> {
  const argv = node.service
    ? [...node.service.start]
    : [join(pgBin, 'pg_ctl'), '-D', node.dataDir, '-l', node.logFile, '-w', '-t', '30', 'start'];
  const offset = sizeOf(node.logFile);
  const result = await run(argv, { ...identity, timeoutMs: 40_000 });
  if (result.ok) return;
  if (BIND_FAILED.test(`${result.stderr}${result.stdout}${await logSince(node.logFile, offset)}`))
    throw new PortTakenError(describeFailure(`start ${node.name} (port taken)`, result));
  throw new EnvironmentError(describeFailure(`start ${node.name}`, result));
}

/**
 * Started; on a fresh port if another process took its own (a `port =` line appended to
 * `confFile`, its postgresql.conf: the last line wins). The node as it now runs.
 */
export const launchNodeOnFreePort = (
  pgBin: string,
  node: SandboxNode,
  identity: RunOptions,
  confFile: string,
): Promise<SandboxNode> =>
  onFreePort(node.port, async (port) => {
    const moved = port === node.port ? node : { ...node, port };
    if (moved !== node) await appendFile(confFile, `port = ${port}\n`);
    await launchNode(pgBin, moved, identity);
    return moved;
  });

/** Starts a sandbox PgBouncer again after a test stopped or killed it (a stale pid file is removed). */
export async function startPgBouncer(manifest: SandboxManifest, name = 'pgbouncer'): Promise<void> {
  const pooler = poolerOf(manifest, name);
  const stale = pgbouncerPid(manifest, name);
  if (stale !== undefined && !isAlive(stale)) await rm(pooler.pidFile, { force: true });
  await launchPgBouncer(manifest.pgbouncerBin, pooler, runAsIdentity(manifest.osUser, 'sandbox'));
}

export async function startNode(manifest: SandboxManifest, name: string): Promise<void> {
  await launchNode(
    manifest.pgBin,
    manifest.nodes.find((n) => n.name === name)!,
    runAsIdentity(manifest.osUser, 'sandbox'),
  );
}

/**
 * A hung server, as a stalled disk makes one: the postmaster and every backend, walsender and
 * helper stop (SIGSTOP), so nothing answers and no WAL flows; `thawNode` continues them all.
 * Stopping only the postmaster would leave its walsenders streaming: not a hung primary.
 */
export function freezeNode(manifest: SandboxManifest, name: string): number[] {
  const pid = postmasterPid(manifest, name);
  if (pid === undefined) throw new EnvironmentError(`${name} is not running`);
  signal(pid, 'SIGSTOP');
  const children = childrenOf(pid);
  for (const child of children) signal(child, 'SIGSTOP');
  return [pid, ...children];
}

export function thawNode(pids: readonly number[]): void {
  for (const pid of pids) signal(pid, 'SIGCONT');
}

/**
 * Makes `name` a fresh replica of `primary` (what a report says when pg_rewind cannot: move the
 * data directory aside, pg_basebackup, start): the node must be stopped. Returns why it failed.
 */
export async function recloneReplica(
  manifest: SandboxManifest,
  name: string,
  primary: Pick<SandboxNode, 'port'>,
): Promise<string | undefined> {
  const node = manifest.nodes.find((n) => n.name === name)!;
  await rm(node.dataDir, { recursive: true, force: true });
  const identity = runAsIdentity(manifest.osUser, 'sandbox');
  const cloned = await run(
    [
      join(manifest.pgBin, 'pg_basebackup'),
      '-D',
      node.dataDir,
      '-d',
      `host=127.0.0.1 port=${primary.port} user=${SANDBOX_USERS.replication} passfile=${manifest.passfile}`,
      '-c',
      'fast',
      '-X',
      'stream',
      '-R',
      '--no-sync',
    ],
    { ...identity, timeoutMs: 300_000 },
  );
  if (!cloned.ok) return describeFailure(`pg_basebackup ${name}`, cloned);
  await appendFile(join(node.dataDir, 'postgresql.conf'), nodeOverrides(node.port, node.name));
  // The copy carries its source's own upstream slot setting (postgresql.auto.conf): not this node's.
  await appendFile(join(node.dataDir, 'postgresql.auto.conf'), "primary_slot_name = ''\n");
  await startNode(manifest, name);
  return undefined;
}
