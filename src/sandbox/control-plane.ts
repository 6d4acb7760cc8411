/**
 * The managed sandbox's stand-in for a platform's control plane (`sandbox up --managed`): what
 * `gcloud sql instances promote-replica`, `aws rds promote-read-replica` or `az postgres
 * flexible-server replica promote` do, done for real on the sandbox's servers, driven exactly as
 * such a CLI is: a command, an exit code, some output, a duration. It alone holds the superuser's
 * password (DIR/control-plane/secret); the tool's inventory has none.
 *
 *   promote ID     after the configured delay, pg_promote() on that instance (or fail, or hang)
 *   stop ID        stop that instance at once (a fence_command: the platform stops or isolates it)
 *   rebuild ID     make that instance a fresh replica of the current primary (delete and re-clone)
 *   switchover ID  the platform's own switchover to that instance: it stops the old primary, syncs,
 *                  promotes, and makes the old one its replica (Cloud SQL's, Azure's planned one)
 *
 * DIR/control-plane/config.json says how it behaves ({"delayMs": 2000, "mode": "ok" | "fail" |
 * "hang"}); tests rewrite it between runs. Every call is appended to calls.jsonl.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../shell/exec.js';
import { runAsIdentity } from '../shell/os-user.js';
import { NodeSession } from '../postgres/session.js';
import { sleep } from '../util/time.js';
import { parseLsn } from '../model/lsn.js';
import { postmasterPid, recloneReplica, startNode } from './control.js';
import { readManifest, type SandboxManifest, type SandboxNode } from './manifest.js';
import { SANDBOX_USERS } from './files.js';

export interface ControlPlaneConfig {
  /** How long a promotion takes, as a platform's does (seconds to minutes). */
  readonly delayMs: number;
  /** ok: promote; fail: exit 1 after the delay, nothing done; hang: never return (the caller's timeout ends it). */
  readonly mode: 'ok' | 'fail' | 'hang';
}

export const controlPlaneDir = (dir: string): string => join(dir, 'control-plane');
export const PLATFORM_ID_PREFIX = 'sandbox-';

export async function writeControlPlaneConfig(dir: string, config: ControlPlaneConfig): Promise<void> {
  await writeFile(join(controlPlaneDir(dir), 'config.json'), `${JSON.stringify(config)}\n`);
}

export function readControlPlaneCalls(
  dir: string,
): Array<{ at: string; command: string; id: string; result?: string }> {
  const file = join(controlPlaneDir(dir), 'calls.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { at: string; command: string; id: string; result?: string });
}

function config(dir: string): ControlPlaneConfig {
  const file = join(controlPlaneDir(dir), 'config.json');
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as ControlPlaneConfig)
    : { delayMs: 1000, mode: 'ok' };
}

const superuser = (dir: string, node: SandboxNode) => ({
  host: '127.0.0.1',
  port: node.port,
  user: SANDBOX_USERS.superuser,
  dbname: 'postgres',
  password: readFileSync(join(controlPlaneDir(dir), 'secret'), 'utf8').trim(),
  extra: {},
});

function instance(manifest: SandboxManifest, id: string): SandboxNode {
  const name = id.startsWith(PLATFORM_ID_PREFIX) ? id.slice(PLATFORM_ID_PREFIX.length) : id;
  const node = manifest.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`instance ${id} not found`);
  return node;
}

/** Runs one control-plane command; returns the exit code and what it printed. */
export async function controlPlane(dir: string, command: string, id: string): Promise<{ code: number; said: string }> {
  const manifest = readManifest(dir);
  const log = (result: string) =>
    appendFileSync(
      join(controlPlaneDir(dir), 'calls.jsonl'),
      `${JSON.stringify({ at: new Date().toISOString(), command, id, result })}\n`,
    );
  log('called');
  const node = instance(manifest, id);
  const { delayMs, mode } = config(dir);
  if (command === 'promote') {
    // A platform's agent on the instance is connected already: this one connects during the delay,
    // so the delay is the whole of the platform's time (about 45 ms of a cold process's login was not).
    const opening = mode === 'ok' ? NodeSession.open(node.name, superuser(dir, node)) : undefined;
    opening?.catch(() => undefined);
    // The delay counts from the call (this process's start, as a platform's clock starts when its API is called).
    await sleep(Math.max(0, delayMs - performance.now()));
    if (mode === 'fail') {
      log('failed');
      return { code: 1, said: `ERROR: (stand-in) operation promote-replica on ${id} failed: InternalError` };
    }
    if (mode === 'hang') {
      log('hanging');
      await new Promise(() => undefined);
    }
    const session = await opening!;
    try {
      // Requested, then watched closely (pg_promote(true) looks only every 100 ms): "DONE" as soon as it is.
      await session.query('SELECT pg_promote(false)');
      const deadline = performance.now() + 60_000;
      while ((await session.one<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).r) {
        if (performance.now() > deadline) return { code: 1, said: `ERROR: (stand-in) ${id} did not finish promoting` };
        await sleep(5);
      }
    } finally {
      await session.close();
    }
    log('promoted');
    return { code: 0, said: `operation promote-replica on ${id}: DONE` };
  }
  if (command === 'stop') {
    const pid = postmasterPid(manifest, node.name);
    if (pid !== undefined) {
      const stopped = await run(
        [join(manifest.pgBin, 'pg_ctl'), '-D', node.dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop'],
        { ...runAsIdentity(manifest.osUser, 'sandbox'), timeoutMs: 40_000 },
      );
      if (!stopped.ok && postmasterPid(manifest, node.name) !== undefined) {
        log('stop failed');
        return { code: 1, said: `ERROR: (stand-in) could not stop ${id}: ${stopped.stderr.trim()}` };
      }
    }
    log('stopped');
    return { code: 0, said: `instance ${id}: STOPPED` };
  }
  if (command === 'rebuild') return rebuild(dir, manifest, node, log);
  if (command === 'switchover') {
    if (mode === 'fail') {
      await sleep(delayMs);
      log('failed');
      return { code: 1, said: `ERROR: (stand-in) operation switchover to ${id} failed: InternalError` };
    }
    if (mode === 'hang') {
      log('hanging');
      await new Promise(() => undefined);
    }
    return platformSwitchover(dir, manifest, node, delayMs, log);
  }
  return { code: 2, said: `unknown command ${command}: expected promote, switchover, stop or rebuild` };
}

/** Deletes the instance's data and clones it again from the current primary (a platform's "create replica"). */
async function rebuild(
  dir: string,
  manifest: SandboxManifest,
  node: SandboxNode,
  log: (r: string) => void,
): Promise<{ code: number; said: string }> {
  const primary = await currentPrimary(dir, manifest, node.name);
  if (!primary) return { code: 1, said: 'ERROR: (stand-in) no primary to rebuild from' };
  await controlPlane(dir, 'stop', node.name);
  const cloned = await recloneReplica(manifest, node.name, primary);
  if (cloned) return { code: 1, said: `ERROR: (stand-in) ${cloned}` };
  log(`rebuilt from ${primary.name}`);
  return { code: 0, said: `instance ${node.name}: replica of ${primary.name}` };
}

/** The node that is a primary and lets the application log in (not a role-fenced old one). */
async function currentPrimary(
  dir: string,
  manifest: SandboxManifest,
  except: string,
): Promise<SandboxNode | undefined> {
  for (const node of manifest.nodes.filter((n) => n.name !== except)) {
    const session = await NodeSession.open(node.name, superuser(dir, node)).catch(() => undefined);
    if (!session) continue;
    try {
      const row = await session.one<{ primary: boolean }>(
        `SELECT NOT pg_is_in_recovery() AND (SELECT rolcanlogin FROM pg_roles WHERE rolname = '${SANDBOX_USERS.app}') AS primary`,
      );
      if (row.primary) return node;
    } finally {
      await session.close();
    }
  }
  return undefined;
}

/**
 * A platform's own switchover (Cloud SQL's, Azure's planned one): it stops the old primary
 * cleanly, waits until the target replayed its shutdown checkpoint, promotes the target, and
 * restarts the old primary as its replica, in `delayMs` at the least.
 */
async function platformSwitchover(
  dir: string,
  manifest: SandboxManifest,
  target: SandboxNode,
  delayMs: number,
  log: (r: string) => void,
): Promise<{ code: number; said: string }> {
  const started = performance.now();
  const old = await currentPrimary(dir, manifest, target.name);
  if (!old) return { code: 1, said: 'ERROR: (stand-in) no primary to switch over from' };
  const identity = { ...runAsIdentity(manifest.osUser, 'sandbox'), timeoutMs: 60_000 };
  const stopped = await run(
    [join(manifest.pgBin, 'pg_ctl'), '-D', old.dataDir, '-m', 'fast', '-w', '-t', '60', 'stop'],
    identity,
  );
  if (!stopped.ok) return { code: 1, said: `ERROR: (stand-in) could not stop ${old.name}: ${stopped.stderr.trim()}` };
  const control = await run([join(manifest.pgBin, 'pg_controldata'), '-D', old.dataDir], identity);
  const checkpoint = parseLsn(/Latest checkpoint location:\s+(\S+)/.exec(control.stdout)?.[1] ?? null);
  if (checkpoint === undefined) return { code: 1, said: 'ERROR: (stand-in) no shutdown checkpoint' };
  const session = await NodeSession.open(target.name, superuser(dir, target));
  try {
    for (;;) {
      const { lsn } = await session.one<{ lsn: string }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
      if ((parseLsn(lsn) ?? 0n) > checkpoint) break;
      if (performance.now() - started > 60_000) return { code: 1, said: 'ERROR: (stand-in) the target did not sync' };
      await sleep(5);
    }
    await sleep(Math.max(0, delayMs - (performance.now() - started)));
    await session.query('SELECT pg_promote(true, 60)');
  } finally {
    await session.close();
  }
  await writeFile(join(old.dataDir, 'standby.signal'), '');
  await appendFile(
    join(old.dataDir, 'postgresql.auto.conf'),
    `primary_conninfo = 'host=127.0.0.1 port=${target.port} user=${SANDBOX_USERS.replication} passfile=${manifest.passfile} application_name=${old.name}'\n`,
  );
  if (manifest.osUser) {
    const { findOsUser } = await import('../shell/os-user.js');
    const user = findOsUser(manifest.osUser)!;
    const { chown } = await import('node:fs/promises');
    await chown(join(old.dataDir, 'standby.signal'), user.uid, user.gid);
  }
  await startNode(manifest, old.name);
  log(`switched over from ${old.name}`);
  return { code: 0, said: `operation switchover to ${target.name}: DONE (${old.name} is now its replica)` };
}
