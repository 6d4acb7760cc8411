/** Starting a sandbox's processes again after a fault test stopped or killed them. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { describeFailure, run } from '../shell/exec.js';
import { runAsIdentity } from '../shell/os-user.js';
import { isAlive, readPidFile } from '../shell/processes.js';
import { rm } from 'node:fs/promises';
import { sleep } from '../util/time.js';
import type { SandboxManifest } from './manifest.js';

export const postmasterPid = (manifest: SandboxManifest, node: string): number | undefined =>
  readPidFile(join(manifest.nodes.find((n) => n.name === node)!.dataDir, 'postmaster.pid'));

const poolerOf = (manifest: SandboxManifest, name: string) => manifest.poolers.find((p) => p.name === name)!;

export const pgbouncerPid = (manifest: SandboxManifest, name = 'pgbouncer'): number | undefined =>
  readPidFile(poolerOf(manifest, name).pidFile);

export async function startPgBouncer(manifest: SandboxManifest, name = 'pgbouncer'): Promise<void> {
  const pooler = poolerOf(manifest, name);
  const identity = runAsIdentity(manifest.osUser, 'sandbox');
  const stale = pgbouncerPid(manifest, name);
  if (stale !== undefined && !isAlive(stale)) await rm(pooler.pidFile, { force: true });
  const result = await run([manifest.pgbouncerBin, '-d', pooler.configFile], { ...identity, timeoutMs: 10_000 });
  if (!result.ok) throw new EnvironmentError(describeFailure(`start ${name}`, result));
  for (let i = 0; i < 200 && !existsSync(pooler.pidFile); i++) await sleep(10);
}

export async function startNode(manifest: SandboxManifest, name: string): Promise<void> {
  const node = manifest.nodes.find((n) => n.name === name)!;
  const identity = runAsIdentity(manifest.osUser, 'sandbox');
  const result = await run([join(manifest.pgBin, 'pg_ctl'), '-D', node.dataDir, '-l', node.logFile, '-w', '-t', '30', 'start'], { ...identity, timeoutMs: 40_000 });
  if (!result.ok) throw new EnvironmentError(describeFailure(`start ${name}`, result));
}
