/**
 * The procedures the CLI offers, with what `--help` needs; each loads only when run, so start-up
 * stays light. Adding one: a folder under src/procedures/, its playbook, and an entry here.
 */
import type { Procedure } from './types.js';

export interface ProcedureEntry {
  readonly name: string;
  /** Other command names (the switchover was first released as `promote`). */
  readonly aliases: readonly string[];
  readonly summary: string;
  readonly load: () => Promise<Procedure>;
}

export const PROCEDURES: readonly ProcedureEntry[] = [
  {
    name: 'switchover',
    aliases: ['promote'],
    summary: 'planned switchover: move the primary role to a replica (see --dry-run)',
    load: async () => (await import('./switchover/index.js')).switchover,
  },
];

export function procedureEntry(name: string): ProcedureEntry {
  const entry = PROCEDURES.find((p) => p.name === name || p.aliases.includes(name));
  if (!entry) throw new Error(`unknown procedure "${name}"`);
  return entry;
}
