/** PostgreSQL client tools (pg_dump, psql) on this machine, of a major that can read `source`. */
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import type { NodeSpec } from '../inventory/model.js';

/** Debian's PostgreSQL bin directories (/usr/lib/postgresql/<major>/bin), newest major first. */
export function debianBinDirs(): string[] {
  if (!existsSync('/usr/lib/postgresql')) return [];
  return readdirSync('/usr/lib/postgresql')
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => `/usr/lib/postgresql/${v}/bin`);
}

/** The node's own bin directory if it is on this machine, else Debian's newest, else PATH: pg_dump must be at least the server's major. */
export async function findClientTool(tool: 'pg_dump' | 'psql', node: NodeSpec): Promise<string> {
  const dirs = [
    ...(node.hostAccess?.kind === 'local' && node.binDir ? [node.binDir] : []),
    ...debianBinDirs(),
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean),
  ];
  const found = dirs.map((d) => join(d, tool)).find((f) => existsSync(f));
  if (!found) throw new EnvironmentError(`${tool} not found (looked in ${dirs.join(', ')}): install postgresql-client`);
  return found;
}
