/**
 * Acting on a node's host: stop it fast, read its control file, start it, mark it a standby.
 * A local fast stop signals the postmaster and watches its pid every 2 ms (pg_ctl -w polls every
 * 100 ms); through a command prefix it uses pg_ctl.
 */
import { join } from 'node:path';
import { StepFailedError, TimeoutError } from '../errors.js';
import type { NodeSpec } from '../inventory/model.js';
import { describeFailure } from '../shell/exec.js';
import type { HostRunner } from '../shell/host.js';
import { commandLine, isAlive, readPidFile, signal, waitGone } from '../shell/processes.js';
import { readControlFile } from './control-file.js';
import { parseControlData, type ControlData } from './controldata.js';

export const binPath = (node: NodeSpec, name: string): string => (node.binDir ? join(node.binDir, name) : name);

export const stopCommand = (node: NodeSpec, timeoutMs: number): string[] => [
  binPath(node, 'pg_ctl'), '-D', node.dataDir!, '-m', 'fast', '-w', '-t', String(Math.ceil(timeoutMs / 1000)), 'stop',
];
export const startCommand = (node: NodeSpec, timeoutMs: number): string[] => [
  binPath(node, 'pg_ctl'), '-D', node.dataDir!, '-l', node.logFile!, '-w', '-t', String(Math.ceil(timeoutMs / 1000)), 'start',
];
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

export async function stopFast(runner: HostRunner, node: NodeSpec, timeoutMs: number, pid?: number): Promise<void> {
  if (pid !== undefined && isAlive(pid) && signal(pid, 'SIGINT')) {
    if (await waitGone([pid], timeoutMs, 2)) return;
    throw new TimeoutError(`${node.name} did not finish a fast shutdown within ${timeoutMs} ms (postmaster pid ${pid} still running: hung?)`);
  }
  const result = await runner.run(stopCommand(node, timeoutMs), { timeoutMs: timeoutMs + 5000 });
  if (!result.ok) throw new StepFailedError(describeFailure(`stopping ${node.name}`, result));
}

export async function readControlData(runner: HostRunner, node: NodeSpec): Promise<ControlData> {
  const local = runner.isLocal && node.dataDir ? await readControlFile(node.dataDir) : undefined;
  if (local) return local;
  const result = await runner.run(controlDataCommand(node), { timeoutMs: 10_000, env: { LC_ALL: 'C' } });
  if (!result.ok) throw new StepFailedError(describeFailure(`pg_controldata on ${node.name}`, result));
  return parseControlData(result.stdout);
}

export async function startServer(runner: HostRunner, node: NodeSpec, timeoutMs: number): Promise<void> {
  const result = await runner.run(startCommand(node, timeoutMs), { timeoutMs: timeoutMs + 5000 });
  if (!result.ok) throw new StepFailedError(describeFailure(`starting ${node.name}`, result));
}

export async function markStandby(runner: HostRunner, node: NodeSpec): Promise<void> {
  const result = await runner.run(standbySignalCommand(node), { timeoutMs: 10_000 });
  if (!result.ok) throw new StepFailedError(describeFailure(`writing standby.signal on ${node.name}`, result));
}
