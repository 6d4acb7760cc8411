/**
 * Runs commands on a node's host: locally (as the data directory's owner when we are root) or
 * through the inventory's command prefix, e.g. `ssh db1 sudo -u postgres`.
 */
import type { NodeSpec } from '../inventory/model.js';
import { run, type RunOptions, type RunResult } from './exec.js';
import { runAsIdentity } from './os-user.js';

export interface HostRunner {
  readonly node: string;
  readonly isLocal: boolean;
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
}

export function hostRunnerFor(node: NodeSpec): HostRunner | undefined {
  const access = node.hostAccess;
  if (!access) return undefined;
  if (access.kind === 'command') {
    const prefix = access.command;
    return { node: node.name, isLocal: false, run: (argv, options) => run([...prefix, ...argv], options) };
  }
  const identity = runAsIdentity(access.runAs, `node ${node.name} host_access.run_as`);
  return { node: node.name, isLocal: true, run: (argv, options) => run(argv, { ...identity, ...options }) };
}
