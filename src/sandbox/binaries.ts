/** Finds the PostgreSQL and PgBouncer binaries the sandbox needs, or says how to install them. */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { EnvironmentError } from '../errors.js';
// Newest major first, so the sandbox uses the most recent server that is installed.
import { debianBinDirs } from '../shell/client-tools.js';

const PG_TOOLS = ['initdb', 'pg_ctl', 'pg_basebackup', 'postgres', 'pg_controldata'];

const isExecutable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

export function findPgBin(explicit?: string): string {
  const candidates = explicit
    ? [explicit]
    : [process.env.PG_BIN, ...debianBinDirs(), ...pathDirs()].filter((d): d is string => Boolean(d));
  for (const dir of candidates) {
    if (PG_TOOLS.every((tool) => isExecutable(join(dir, tool)))) return dir;
  }
  if (explicit) {
    const missing = PG_TOOLS.filter((tool) => !isExecutable(join(explicit, tool)));
    throw new EnvironmentError(`--pg-bin ${explicit}: missing ${missing.join(', ')}`);
  }
  throw new EnvironmentError(
    'PostgreSQL server binaries not found (initdb, pg_ctl, pg_basebackup); install them with ' +
      '`apt-get install -y postgresql` or pass --pg-bin DIR (or set PG_BIN)',
  );
}

/** `name` on PATH, or in /usr/sbin, /usr/bin (where Debian's packages put daemons). */
export function findExecutable(name: string): string {
  for (const dir of [...pathDirs(), '/usr/sbin', '/usr/bin']) {
    const file = join(dir, name);
    if (isExecutable(file)) return file;
  }
  throw new EnvironmentError(`${name} not found on PATH; install it with \`apt-get install -y ${name}\``);
}

export const findPgBouncer = (): string => findExecutable('pgbouncer');

const pathDirs = (): string[] => (process.env.PATH ?? '').split(delimiter).filter(Boolean);

/**
 * Server binaries of PostgreSQL `major` for an upgrade target: $PG<major>_BIN, the npm build
 * `scripts/install-embedded-pg.sh` puts under /opt/pg-handover, or Debian's. Not the source's.
 */
export function findUpgradeBin(major: number, sourceBin: string): string {
  const candidates = [
    process.env[`PG${major}_BIN`],
    `/opt/pg-handover/postgresql-${major}/bin`,
    `/usr/lib/postgresql/${major}/bin`,
  ].filter((d): d is string => !!d);
  const found = candidates.find(
    (dir) => isExecutable(join(dir, 'postgres')) && isExecutable(join(dir, 'initdb')) && dir !== sourceBin,
  );
  if (found) return found;
  throw new EnvironmentError(
    `no PostgreSQL ${major} binaries (looked in ${candidates.join(', ')}); install them with ` +
      `\`bash scripts/install-embedded-pg.sh ${major}.10.0-beta.17 /opt/pg-handover/postgresql-${major}\` or set PG${major}_BIN`,
  );
}
