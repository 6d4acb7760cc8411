/**
 * An HAProxy in TCP mode in front of the sandbox's nodes, as the common Patroni-style kits set
 * it up, but with the write backend's state kept by its runtime API instead of an HTTP health
 * endpoint: the primary's server ready, every other node's server `disabled` (maintenance).
 * Plain TCP checks only tell up from down; they never undo a maintenance state.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findExecutable } from './binaries.js';
import { EnvironmentError } from '../errors.js';
import { describeFailure, run } from '../shell/exec.js';
import { readPidFile, stopProcesses } from '../shell/processes.js';
import { sleep } from '../util/time.js';
import type { SandboxHaproxy, SandboxNode } from './manifest.js';
import { BIND_FAILED, onFreePort, PortTakenError } from './ports.js';

export const HAPROXY_FRONTEND = 'pg_write';
export const HAPROXY_BACKEND = 'pg_primary';

export const findHaproxy = (): string => findExecutable('haproxy');

export function haproxyConfig(
  h: Pick<SandboxHaproxy, 'port' | 'socket' | 'pidFile' | 'stateFile'>,
  nodes: readonly SandboxNode[],
  primary: string,
): string {
  return `# Written by \`pg-handover sandbox up --router haproxy\`.
global
    stats socket ${h.socket} mode 600 level admin
    stats timeout 2m
    pidfile ${h.pidFile}
    maxconn 1000
    # After a reload, the old process finishes its sessions for at most this long.
    hard-stop-after 5s
    # pg-handover writes the servers' states here after a switch; a reload loads them.
    server-state-file ${h.stateFile}

defaults
    mode tcp
    load-server-state-from-file global
    timeout connect 1s
    timeout client 30m
    timeout server 30m
    retries 2

frontend ${HAPROXY_FRONTEND}
    bind 127.0.0.1:${h.port}
    default_backend ${HAPROXY_BACKEND}

# Only the primary's server is ready; pg-handover moves that over the runtime API.
backend ${HAPROXY_BACKEND}
    default-server inter 1s fall 2 rise 1
${nodes.map((n) => `    server ${n.name} 127.0.0.1:${n.port} check${n.name === primary ? '' : ' disabled'}`).join('\n')}
`;
}

/** Written and started; on a fresh port if another process took `port` first. */
export const startHaproxy = (dir: string, port: number, nodes: readonly SandboxNode[], primary: string) =>
  onFreePort(port, (free) => startHaproxyOn(dir, free, nodes, primary));

async function startHaproxyOn(
  dir: string,
  port: number,
  nodes: readonly SandboxNode[],
  primary: string,
): Promise<SandboxHaproxy> {
  const bin = findHaproxy();
  const home = join(dir, 'haproxy');
  await mkdir(home, { mode: 0o700, recursive: true });
  const h: SandboxHaproxy = {
    name: 'haproxy',
    port,
    bin,
    configFile: join(home, 'haproxy.cfg'),
    socket: join(home, 'admin.sock'),
    pidFile: join(home, 'haproxy.pid'),
    stateFile: join(home, 'servers.state'),
    frontend: HAPROXY_FRONTEND,
    backend: HAPROXY_BACKEND,
  };
  await writeFile(h.configFile, haproxyConfig(h, nodes, primary), { mode: 0o600 });
  await launchHaproxy(h);
  return h;
}

/** Starts it as a daemon (-D) and waits for its runtime socket; `replacing`: a reload (-sf), the old process finishing its sessions. */
export async function launchHaproxy(h: SandboxHaproxy, replacing?: number): Promise<void> {
  const result = await run([h.bin, '-D', '-f', h.configFile, ...(replacing ? ['-sf', String(replacing)] : [])], {
    timeoutMs: 10_000,
  });
  if (!result.ok) {
    // -D: HAProxy binds before it detaches, so a taken port is on its stderr.
    if (BIND_FAILED.test(result.stderr))
      throw new PortTakenError(describeFailure(`start ${h.name} (port taken)`, result));
    throw new EnvironmentError(describeFailure(`start ${h.name}`, result));
  }
  const deadline = Date.now() + 10_000;
  while (!existsSync(h.socket) || !readPidFile(h.pidFile) || readPidFile(h.pidFile) === replacing) {
    if (Date.now() > deadline) throw new EnvironmentError(`${h.name} did not start (no ${h.socket})`);
    await sleep(10);
  }
}

/** A reload as an init script does it: a new process from the config file (and the state file), the old one told to finish. */
export async function reloadHaproxy(h: SandboxHaproxy): Promise<void> {
  await launchHaproxy(h, readPidFile(h.pidFile));
}

export async function stopHaproxy(h: SandboxHaproxy): Promise<boolean> {
  const pid = readPidFile(h.pidFile);
  if (!pid) return false;
  await stopProcesses([pid], 'SIGTERM', 3000);
  return true;
}
