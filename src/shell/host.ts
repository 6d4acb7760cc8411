/**
 * Runs commands on a host (a node's, a pooler's): locally (as the files' owner when we are root)
 * or through the inventory's command prefix, e.g. `ssh db1 sudo -u postgres` or
 * `docker exec -i -u postgres db1`.
 */
import { basename } from 'node:path';
import { quote } from 'shell-quote';
import type { HostAccess, NodeSpec } from '../inventory/model.js';
import { run, type RunOptions, type RunResult } from './exec.js';
import { runAsIdentity } from './os-user.js';

export interface HostRunner {
  readonly node: string;
  readonly isLocal: boolean;
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
}

export const hostRunnerFor = (node: NodeSpec): HostRunner | undefined =>
  hostRunner(node.name, node.hostAccess, `node ${node.name} host_access.run_as`);

/**
 * Through a prefix, `options.env` cannot be the local process's environment (it would stay on
 * this side of ssh or docker exec) nor go on the command line (secrets): it is sent on standard
 * input, one NAME=value line each, and exported on the far side before the command runs.
 */
const ENV_FROM_STDIN = 'while IFS= read -r kv && [ -n "$kv" ]; do export "$kv"; done; exec "$@"';

export function hostRunner(name: string, access: HostAccess | undefined, runAsField: string): HostRunner | undefined {
  if (!access) return undefined;
  if (access.kind === 'command') {
    const prefix = access.command;
    // ssh joins its arguments into one line for the remote shell: each word is quoted, so a path
    // with a space or a `sh -c` script arrives as one argument, as it does through docker exec.
    const rejoins = basename(prefix[0]!) === 'ssh';
    return {
      node: name,
      isLocal: false,
      run: (argv, options = {}) => {
        const env = Object.entries(options.env ?? {}).filter((e): e is [string, string] => e[1] !== undefined);
        const words = env.length ? ['sh', '-c', ENV_FROM_STDIN, 'sh', ...argv] : [...argv];
        const input = env.length
          ? `${env.map(([k, v]) => `${k}=${v}`).join('\n')}\n\n${options.input ?? ''}`
          : options.input;
        return run([...prefix, ...(rejoins ? [quote(words)] : words)], { ...options, env: undefined, input });
      },
    };
  }
  const identity = runAsIdentity(access.runAs, runAsField);
  return { node: name, isLocal: true, run: (argv, options) => run(argv, { ...identity, ...options }) };
}
