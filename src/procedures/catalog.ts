/**
 * The procedures the CLI offers, with what `--help` needs; each loads only when run, so start-up
 * stays light. Adding one: a folder under src/procedures/, its playbook, and an entry here.
 */
import { failoverOptions } from './failover/options.js';
import { rollingRestartOptions } from './rolling-restart/options.js';
import type { AnyProcedure, ProcedureFlag } from './types.js';
import { upgradeMajorOptions } from './upgrade-major/options.js';

export interface ProcedureEntry {
  readonly name: string;
  /** Other command names (the switchover was first released as `promote`). */
  readonly aliases: readonly string[];
  readonly summary: string;
  /** --target's help: how the procedure chooses when it is not given. */
  readonly targetHelp: string;
  /** A positional argument instead of --target (rejoin NODE). */
  readonly argument?: { readonly name: string; readonly description: string };
  /** Flags only this procedure has. */
  readonly flags?: readonly ProcedureFlag[];
  /** Each procedure has its own options type: the catalog holds them as Procedure<unknown>. */
  readonly load: () => Promise<AnyProcedure>;
}

export const PROCEDURES: readonly ProcedureEntry[] = [
  {
    name: 'switchover',
    aliases: ['promote'],
    summary: 'planned switchover: move the primary role to a replica (see --dry-run)',
    targetHelp:
      'node to promote (default: the first by name of the streaming replicas within 16 MiB of the most advanced)',
    load: async () => (await import('./switchover/index.js')).switchover,
  },
  {
    name: 'failover',
    aliases: [],
    summary: 'the primary is dead or hung: fence it, promote the most advanced replica (see --dry-run)',
    targetHelp:
      'node to promote (default: the most advanced replica; ties: synchronous standby, priority, least replay lag)',
    flags: failoverOptions.flags,
    load: async () => (await import('./failover/index.js')).failover,
  },
  {
    name: 'rolling-restart',
    aliases: [],
    summary:
      'restart every server on new binaries (minor upgrade, OS patch): replicas first, then a switchover, then the old primary',
    targetHelp: 'the replica to switch over to once the replicas run the new binaries (default: as switchover chooses)',
    flags: rollingRestartOptions.flags,
    load: async () => (await import('./rolling-restart/index.js')).rollingRestart,
  },
  {
    name: 'upgrade-major',
    aliases: [],
    summary:
      'major-version upgrade: move the writes to the logical replica on the new version (after prepare-upgrade); --back returns',
    targetHelp: "not used: the target is the inventory's upgrade_target (or, with --back, the old cluster's primary)",
    flags: upgradeMajorOptions.flags,
    load: async () => (await import('./upgrade-major/index.js')).upgradeMajor,
  },
  {
    name: 'rejoin',
    aliases: [],
    summary: 'make a former primary (or a diverged replica) a replica of the current primary, with pg_rewind if needed',
    targetHelp: 'the node to rejoin',
    argument: { name: '<node>', description: 'the node to rejoin (e.g. the old primary after a failover)' },
    load: async () => (await import('./rejoin/index.js')).rejoin,
  },
];

export function procedureEntry(name: string): ProcedureEntry {
  const entry = PROCEDURES.find((p) => p.name === name || p.aliases.includes(name));
  if (!entry) throw new Error(`unknown procedure "${name}"`);
  return entry;
}
