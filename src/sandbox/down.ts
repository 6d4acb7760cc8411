/** Stops exactly the processes a sandbox started (by pid file and pg_ctl), then removes it. */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../shell/exec.js';
import { runAsIdentity } from '../shell/os-user.js';
import { childrenOf, readPidFile, signal, stopProcesses } from '../shell/processes.js';
import { stopHaproxy } from './haproxy.js';
import { readManifest, type SandboxManifest } from './manifest.js';

export interface SandboxDownResult {
  readonly stopped: string[];
  readonly elapsedMs: number;
}

export async function sandboxDown(dir: string, options: { keep?: boolean } = {}): Promise<SandboxDownResult> {
  const started = performance.now();
  const manifest = readManifest(dir);
  const stopped = manifest.containers
    ? await (await import('./containers/labels.js')).removeSandbox(manifest.containers.id)
    : await stopSandboxProcesses(manifest);
  if (!options.keep) await rm(manifest.dir, { recursive: true, force: true });
  return { stopped, elapsedMs: performance.now() - started };
}

/** Every process of the sandbox that is alive now: postmasters, their children, PgBouncer. */
export function sandboxPids(manifest: SandboxManifest): number[] {
  const pids: number[] = [];
  if (manifest.containers) return pids; // inside the containers, gone with them
  for (const node of [...manifest.nodes, ...(manifest.upgradeTarget?.nodes ?? [])]) {
    const pid = readPidFile(join(node.dataDir, 'postmaster.pid'));
    if (pid) pids.push(pid, ...childrenOf(pid));
  }
  for (const pooler of manifest.poolers) {
    const bouncer = readPidFile(pooler.pidFile);
    if (bouncer) pids.push(bouncer);
  }
  const haproxy = manifest.haproxy && readPidFile(manifest.haproxy.pidFile);
  if (haproxy) pids.push(haproxy);
  return pids;
}

async function stopSandboxProcesses(manifest: SandboxManifest): Promise<string[]> {
  const identity = runAsIdentity(manifest.osUser, 'sandbox');
  const stopped: string[] = [];
  const all = [
    ...manifest.nodes.map((node) => ({ node, pgBin: manifest.pgBin })),
    ...(manifest.upgradeTarget?.nodes ?? []).map((node) => ({ node, pgBin: manifest.upgradeTarget!.pgBin })),
  ];
  await Promise.all(
    all.map(async ({ node, pgBin }) => {
      const pidFile = join(node.dataDir, 'postmaster.pid');
      const pid = readPidFile(pidFile);
      if (!pid) return;
      const family = [pid, ...childrenOf(pid)];
      // A SIGSTOPped postmaster (fault tests) ignores pg_ctl's signal until continued.
      signal(pid, 'SIGCONT');
      const result = await run(
        [join(pgBin, 'pg_ctl'), '-D', node.dataDir, '-m', 'immediate', '-w', '-t', '10', 'stop'],
        { ...identity, timeoutMs: 15_000 },
      );
      await stopProcesses(family, result.ok ? 'SIGCONT' : 'SIGKILL', result.ok ? 2000 : 0);
      stopped.push(node.name);
    }),
  );
  for (const pooler of manifest.poolers) {
    const bouncer = readPidFile(pooler.pidFile);
    if (bouncer && existsSync(pooler.pidFile)) {
      await stopProcesses([bouncer], 'SIGTERM', 3000);
      stopped.push(pooler.name);
    }
  }
  if (manifest.haproxy && (await stopHaproxy(manifest.haproxy))) stopped.push(manifest.haproxy.name);
  return stopped;
}
