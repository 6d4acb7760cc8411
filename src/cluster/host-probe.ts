/**
 * Exercises the host runner of a node the run will act on, before anything changes: the same
 * prefix (ssh, sudo, run_as) and the same paths the fence and the rejoin will use. A wrong
 * data_dir, a prefix that cannot run, a run_as that is not honoured or a data directory the run
 * cannot write show up here, not at the fence.
 */
import { join } from 'node:path';
import type { NodeSpec } from '../inventory/model.js';
import { binPath } from '../postgres/server-control.js';
import { describeFailure } from '../shell/exec.js';
import { hostRunnerFor, type HostRunner } from '../shell/host.js';
import { currentUser, isRoot } from '../shell/os-user.js';
import type { HostProbe } from '../model/cluster-state.js';

export async function probeHost(node: NodeSpec, serverDataDir: string | undefined): Promise<HostProbe> {
  const problems: string[] = [];
  const access = node.hostAccess;
  if (!access || !node.dataDir) return { node: node.name, problems };
  if (access.kind === 'local' && access.runAs && !isRoot() && currentUser() !== access.runAs) {
    problems.push(`host_access.run_as is ${access.runAs}, but pg-handover runs as ${currentUser()} (not root), so it cannot act as ${access.runAs}`);
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
  const [pid, writable, pgCtl, controlData, same] = await Promise.all([
    runner.run(['cat', pidFile], { timeoutMs: 10_000 }),
    runner.run(['test', '-w', dataDir], { timeoutMs: 10_000 }),
    runner.run([binPath(node, 'pg_ctl'), '--version'], { timeoutMs: 10_000 }),
    runner.run([binPath(node, 'pg_controldata'), '--version'], { timeoutMs: 10_000 }),
    serverDataDir && serverDataDir !== dataDir ? runner.run(['test', dataDir, '-ef', serverDataDir], { timeoutMs: 10_000 }) : undefined,
  ]);
  const via = access.kind === 'local' ? `locally${access.runAs ? ` as ${access.runAs}` : ''}` : `via ${access.command.join(' ')}`;
  if (!pid.ok) problems.push(describeFailure(`reading ${pidFile} ${via}`, pid));
  else if (!writable.ok) problems.push(`${dataDir} is not writable ${via} (standby.signal goes there)`);
  if (!pgCtl.ok) problems.push(describeFailure(`running ${binPath(node, 'pg_ctl')} ${via}`, pgCtl));
  if (!controlData.ok) problems.push(describeFailure(`running ${binPath(node, 'pg_controldata')} ${via}`, controlData));
  if (same && !same.ok) problems.push(`data_dir ${dataDir} is not the server's data directory ${serverDataDir} (SHOW data_directory)`);
  return { node: node.name, problems };
}
