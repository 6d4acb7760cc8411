/**
 * The Debian/Ubuntu layout for the sandbox, built with postgresql-common itself: pg_createcluster
 * puts the config in <dir>/etc/<major>/<node> (PG_CLUSTER_CONF_ROOT, so nothing lands in
 * /etc/postgresql) and the data in <dir>/<node>; pg_ctlcluster starts and stops it. The inventory
 * then carries those as the nodes' service commands, as an operator's would.
 */
import { appendFile, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { describeFailure, run } from '../shell/exec.js';
import type { SandboxNode } from './manifest.js';

export interface DebianLayout {
  readonly confRoot: string;
  readonly major: string;
}

export function debianLayout(dir: string, pgBin: string): DebianLayout {
  // pg_createcluster knows the versions installed under /usr/lib/postgresql/<major>/bin.
  const major = basename(dirname(pgBin));
  if (!/^\d+$/.test(major) || dirname(dirname(pgBin)) !== '/usr/lib/postgresql') {
    throw new EnvironmentError(
      `--layout debian needs Debian's PostgreSQL (/usr/lib/postgresql/<major>/bin), not ${pgBin}`,
    );
  }
  return { confRoot: join(dir, 'etc'), major };
}

const confDirOf = (layout: DebianLayout, node: string): string => join(layout.confRoot, layout.major, node);

/** `pg_ctlcluster` through `env`, so the prefix also works through sudo or ssh. */
export const serviceCommands = (layout: DebianLayout, node: string) => {
  const base = ['env', `PG_CLUSTER_CONF_ROOT=${layout.confRoot}`, 'pg_ctlcluster', layout.major, node];
  return { start: [...base, 'start'], stop: [...base, 'stop', '-m', 'fast'] };
};

/**
 * pg_createcluster as root (it creates the config directory, then initdb as `osUser`), then the
 * sandbox's settings appended to its postgresql.conf and its pg_hba.conf replaced.
 */
export async function createCluster(
  ctx: {
    readonly osUser: string | undefined;
    readonly conf: (port: number, name: string) => string;
    readonly hba: string;
  },
  layout: DebianLayout,
  node: SandboxNode,
  initdbArgs: readonly string[],
): Promise<void> {
  const { osUser } = ctx;
  const result = await run(
    [
      'pg_createcluster',
      layout.major,
      node.name,
      '-d',
      node.dataDir,
      '-p',
      String(node.port),
      '-l',
      node.logFile,
      '--start-conf',
      'manual',
      '--locale',
      'C',
      '-e',
      'UTF8',
      ...(osUser ? ['-u', osUser] : []),
      '--',
      ...initdbArgs,
    ],
    { timeoutMs: 60_000, env: { PG_CLUSTER_CONF_ROOT: layout.confRoot } },
  );
  if (!result.ok) throw new EnvironmentError(describeFailure(`pg_createcluster ${node.name}`, result));
  const conf = confDirOf(layout, node.name);
  // No pid file in /var/run/postgresql: two sandboxes may both have a node called pg1.
  await appendFile(join(conf, 'postgresql.conf'), `${ctx.conf(node.port, node.name)}external_pid_file = ''\n`);
  // Debian's own first line: pg_ctlcluster checks a started server as the OS user postgres.
  await writeFile(join(conf, 'pg_hba.conf'), `local   all           postgres                      peer\n${ctx.hba}`);
}

/** A replica's cluster is created like any other, then its data directory emptied for pg_basebackup. */
export async function emptyDataDir(node: SandboxNode): Promise<void> {
  for (const entry of await readdir(node.dataDir))
    await rm(join(node.dataDir, entry), { recursive: true, force: true });
}

/** The postgresql.conf a node reads: Debian's under its config root, else the data directory's own. */
export const postgresqlConfOf = (layout: DebianLayout | undefined, node: SandboxNode): string =>
  layout ? join(confDirOf(layout, node.name), 'postgresql.conf') : join(node.dataDir, 'postgresql.conf');
