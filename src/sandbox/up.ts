/**
 * Builds a real local cluster: a primary from initdb (with data checksums, so pg_rewind works),
 * replicas from pg_basebackup with physical slots, and a PgBouncer in front of the primary.
 * Server processes run as an unprivileged OS user when we are root.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { EnvironmentError } from '../errors.js';
import { NodeSession } from '../postgres/session.js';
import { describeFailure, run, type RunOptions } from '../shell/exec.js';
import { findOsUser, isRoot, runAsIdentity } from '../shell/os-user.js';
import { registerSecret } from '../util/secrets.js';
import { sleep } from '../util/time.js';
import { findPgBin, findPgBouncer, findUpgradeBin } from './binaries.js';
import { execPrefix } from './containers/engine.js';
import { launchNodeOnFreePort, launchPgBouncer } from './control.js';
import { freePorts, onFreePort } from './ports.js';
import { findHaproxy, startHaproxy } from './haproxy.js';
import { controlPlaneDir, PLATFORM_ID_PREFIX, writeControlPlaneConfig } from './control-plane.js';
import { packageRoot } from '../util/package-root.js';
import {
  createCluster,
  debianLayout,
  emptyDataDir,
  postgresqlConfOf,
  serviceCommands,
  type DebianLayout,
} from './debian.js';
import { makeCertificates, tlsConf, tlsHba } from './tls.js';
import {
  PG_HBA,
  TRUSTED_REPLICATION_HBA,
  SANDBOX_USERS,
  nodeOverrides,
  pgbouncerIni,
  pgpass,
  postgresqlConf,
  scramVerifier,
  userlist,
  type Passwords,
} from './files.js';
import { manifestPath, writeManifest, type SandboxManifest, type SandboxNode, type SandboxPooler } from './manifest.js';

export interface SandboxUpOptions {
  readonly dir: string;
  readonly replicas?: number;
  /** PgBouncers in front of the primary, as behind a load balancer. */
  readonly poolers?: number;
  readonly pgBin?: string;
  /** OS user that runs the servers when we are root. */
  readonly osUser?: string;
  /** 'debian': config outside the data directory, pg_createcluster/pg_ctlcluster (see debian.ts). */
  readonly layout?: 'plain' | 'debian';
  /** Servers with TLS certificates from a throwaway CA; the tool's logins must use them (see tls.ts). */
  readonly tls?: boolean;
  /** 'containers': each server in its own container (containers/up.ts); default 'local'. */
  readonly backend?: 'local' | 'containers';
  /** What sends clients to the primary: PgBouncer (default) or HAProxy in TCP mode (haproxy.ts). */
  readonly router?: 'pgbouncer' | 'haproxy';
  /** A node on this newer major (its binaries found by findUpgradeBin) for upgrade-major; the cluster gets wal_level = logical. */
  readonly upgradeTarget?: number;
  /**
   * 'trust': replication connections from loopback need no password, and the replicas are cloned
   * by a plain `pg_basebackup -R` that names no passfile, as many clusters are built: their
   * primary_conninfo then names a passfile that does not exist.
   */
  readonly replicationAuth?: 'password' | 'trust';
  /**
   * A stand-in managed platform (control-plane.ts): the inventory has no host_access and no
   * superuser; the tool logs in as a platform admin (CREATEROLE, pg_monitor, pg_signal_backend)
   * and promotes through the stand-in's command, which takes `promoteDelayMs`.
   */
  readonly managed?: { readonly promoteDelayMs: number };
  readonly onProgress?: (message: string) => void;
}

export interface SandboxUpResult {
  readonly manifest: SandboxManifest;
  readonly elapsedMs: number;
}

export async function sandboxUp(options: SandboxUpOptions): Promise<SandboxUpResult> {
  if (options.backend === 'containers') return (await import('./containers/up.js')).containerSandboxUp(options);
  const started = performance.now();
  const dir = resolve(options.dir);
  const replicas = options.replicas ?? 2;
  const progress = options.onProgress ?? (() => undefined);
  const pgBin = findPgBin(options.pgBin);
  const pgbouncerBin = findPgBouncer();
  const osUser = isRoot() ? (options.osUser ?? 'postgres') : undefined;
  const identity = runAsIdentity(osUser, 'sandbox --os-user');
  await prepareDir(dir, osUser);

  const layout = options.layout === 'debian' ? debianLayout(dir, pgBin) : undefined;
  const tls = options.tls ? await makeCertificates(join(dir, 'tls'), osUser) : undefined;
  if (options.router === 'haproxy') findHaproxy(); // before anything is built
  const upgradeBin = options.upgradeTarget ? findUpgradeBin(options.upgradeTarget, pgBin) : undefined;
  const poolerCount = options.router === 'haproxy' ? 0 : (options.poolers ?? 1);
  const ports = await freePorts(
    replicas + 1 + poolerCount + (options.router === 'haproxy' ? 1 : 0) + (upgradeBin ? 1 : 0),
  );
  const upgradePort = upgradeBin ? ports.pop()! : undefined;
  const passwords: Passwords = {
    superuser: newSecret(),
    replication: newSecret(),
    app: newSecret(),
    poolerAdmin: newSecret(),
  };
  const nodes: SandboxNode[] = Array.from({ length: replicas + 1 }, (_, i) => ({
    name: `pg${i + 1}`,
    port: ports[i]!,
    dataDir: join(dir, `pg${i + 1}`),
    logFile: join(dir, `pg${i + 1}.log`),
    ...(layout ? { service: serviceCommands(layout, `pg${i + 1}`) } : {}),
  }));
  const poolerPorts = ports.slice(replicas + 1, replicas + 1 + poolerCount);
  const haproxyPort = options.router === 'haproxy' ? ports.at(-1)! : undefined;
  const passfile = join(dir, 'pgpass');
  // The routers' ports are added once they are bound (a taken port is replaced).
  await writeOwned(passfile, pgpass(passwords, []), osUser, 0o600);

  const ctx: BuildContext = {
    dir,
    pgBin,
    identity,
    osUser,
    passfile,
    layout,
    // Logical decoding for a publication (and, on the target, for the way back).
    conf: (port, name) =>
      `${postgresqlConf(port, name)}${tls ? tlsConf(tls) : ''}${upgradeBin ? 'wal_level = logical\n' : ''}`,
    hba: `${tls ? tlsHba(SANDBOX_USERS.superuser) : ''}${options.replicationAuth === 'trust' ? TRUSTED_REPLICATION_HBA : ''}${PG_HBA}`,
    replicationTrust: options.replicationAuth === 'trust',
  };
  progress(`initdb ${nodes[0]!.name}`);
  await initPrimary(ctx, nodes[0]!, passwords);
  nodes[0] = await startNodeOnFreePort(ctx, nodes[0]!);
  const primary = nodes[0];
  await createRoles(primary, passwords, ctx.layout !== undefined);
  progress(
    `pg_basebackup ${nodes
      .slice(1)
      .map((n) => n.name)
      .join(', ')}`,
  );
  await Promise.all(nodes.slice(1).map((replica) => cloneReplica(ctx, primary, replica)));
  nodes.splice(1, replicas, ...(await Promise.all(nodes.slice(1).map((replica) => startNodeOnFreePort(ctx, replica)))));
  progress(haproxyPort ? 'haproxy' : poolerCount > 1 ? `${poolerCount} pgbouncers` : 'pgbouncer');
  const poolers = await Promise.all(
    poolerPorts.map((port, i) =>
      startPgBouncer(
        ctx,
        pgbouncerBin,
        { name: i === 0 ? 'pgbouncer' : `pgbouncer${i + 1}`, primaryPort: primary.port, passwords },
        port,
      ),
    ),
  );
  const haproxy = haproxyPort ? await startHaproxy(dir, haproxyPort, nodes, primary.name) : undefined;
  const routerPorts = [...poolers.map((p) => p.port), ...(haproxy ? [haproxy.port] : [])];
  await writeOwned(passfile, pgpass(passwords, routerPorts), osUser, 0o600);
  const upgradeTarget = upgradeBin
    ? await buildUpgradeTarget({ ...ctx, pgBin: upgradeBin, layout: undefined }, upgradePort!, passwords, progress)
    : undefined;
  await waitForStreaming(primary, passwords, replicas);
  const managed = options.managed
    ? await buildControlPlane(
        dir,
        primary,
        passwords,
        options.managed,
        poolers.map((p) => p.port),
      )
    : undefined;

  const manifest: SandboxManifest = {
    dir,
    osUser,
    pgBin,
    pgbouncerBin,
    nodes,
    poolers,
    ...(haproxy ? { haproxy } : {}),
    ...(upgradeTarget ? { upgradeTarget: { pgBin: upgradeBin!, nodes: [upgradeTarget] } } : {}),
    inventoryFile: join(dir, 'inventory.yaml'),
    passfile,
    layout: layout ? 'debian' : 'plain',
    ...(tls ? { tlsCaFile: tls.caFile } : {}),
    ...(managed ? { managed } : {}),
    createdAt: new Date().toISOString(),
  };
  await writeFile(manifest.inventoryFile, inventoryYaml(manifest));
  await writeManifest(manifest);
  return { manifest, elapsedMs: performance.now() - started };
}

interface BuildContext {
  readonly dir: string;
  readonly pgBin: string;
  readonly identity: RunOptions;
  readonly osUser: string | undefined;
  readonly passfile: string;
  /** Replicas cloned without a passfile, replication trusted from loopback. */
  readonly replicationTrust?: boolean;
  readonly layout: DebianLayout | undefined;
  /** A node's postgresql.conf additions, and the pg_hba.conf every node gets. */
  readonly conf: (port: number, name: string) => string;
  readonly hba: string;
}

export const newSecret = (): string => {
  const value = randomBytes(18).toString('base64url');
  registerSecret(value);
  return value;
};

export async function prepareDir(dir: string, osUser: string | undefined): Promise<void> {
  if (existsSync(manifestPath(dir))) {
    throw new EnvironmentError(
      `a sandbox already exists at ${dir}; run \`pg-handover sandbox down --dir ${dir}\` first`,
    );
  }
  if (existsSync(dir) && (await readdir(dir)).length > 0) {
    throw new EnvironmentError(`${dir} exists and is not empty; choose another --dir`);
  }
  if (osUser) assertReachable(dir, osUser);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  if (osUser) {
    const user = findOsUser(osUser)!;
    await chown(dir, user.uid, user.gid);
  }
}

/** The servers run as `osUser`, which must be able to walk down to `dir` (e.g. not under /root). */
function assertReachable(dir: string, osUser: string): void {
  for (let parent = dirname(dir); parent !== dirname(parent); parent = dirname(parent)) {
    if (!existsSync(parent)) continue;
    if ((statSync(parent).mode & 0o001) === 0) {
      throw new EnvironmentError(
        `${parent} is not searchable by OS user ${osUser}, who runs the servers; choose a --dir under /tmp or /var/tmp`,
      );
    }
  }
}

async function writeOwned(file: string, text: string, osUser: string | undefined, mode: number): Promise<void> {
  await writeFile(file, text, { mode });
  if (osUser) {
    const user = findOsUser(osUser)!;
    await chown(file, user.uid, user.gid);
  }
}

async function must(what: string, argv: string[], options: RunOptions): Promise<void> {
  const result = await run(argv, { timeoutMs: 60_000, ...options });
  if (!result.ok) throw new EnvironmentError(describeFailure(what, result));
}

async function initPrimary(ctx: BuildContext, node: SandboxNode, passwords: Passwords): Promise<void> {
  const pwfile = join(ctx.dir, '.initdb-pw');
  await writeOwned(pwfile, `${passwords.superuser}\n`, ctx.osUser, 0o600);
  try {
    if (ctx.layout) {
      await createCluster(ctx, ctx.layout, node, [
        '-U',
        SANDBOX_USERS.superuser,
        `--pwfile=${pwfile}`,
        '--data-checksums',
        '--no-sync',
      ]);
      return;
    }
    await must(
      `initdb ${node.name}`,
      [
        join(ctx.pgBin, 'initdb'),
        '-D',
        node.dataDir,
        '-U',
        SANDBOX_USERS.superuser,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--data-checksums',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ],
      ctx.identity,
    );
  } finally {
    await rm(pwfile, { force: true });
  }
  await appendFile(join(node.dataDir, 'postgresql.conf'), ctx.conf(node.port, node.name));
  await writeFile(join(node.dataDir, 'pg_hba.conf'), ctx.hba);
}

const superuserConn = (port: number, password: string) => ({
  host: '127.0.0.1',
  port,
  user: SANDBOX_USERS.superuser,
  dbname: 'postgres',
  password,
  extra: {},
});

export async function createRoles(primary: SandboxNode, passwords: Passwords, debian: boolean): Promise<void> {
  const session = await NodeSession.open(primary.name, superuserConn(primary.port, passwords.superuser));
  try {
    // Debian's clusters have it; pg_ctlcluster checks a started server as it (peer, no password).
    if (debian) await session.query('CREATE ROLE postgres WITH SUPERUSER LOGIN');
    await session.query(
      `CREATE ROLE ${SANDBOX_USERS.replication} WITH REPLICATION LOGIN PASSWORD '${passwords.replication}'`,
    );
    // The verifier PgBouncer's auth file holds too (files.ts: userlist).
    await session.query(`CREATE ROLE ${SANDBOX_USERS.app} WITH LOGIN PASSWORD '${scramVerifier(passwords.app)}'`);
    await session.query(`CREATE DATABASE ${SANDBOX_USERS.database} OWNER ${SANDBOX_USERS.app}`);
  } finally {
    await session.close();
  }
}

/** A single node on the newer major, its roles and an empty application database, for upgrade-major to fill. */
async function buildUpgradeTarget(
  ctx: BuildContext,
  port: number,
  passwords: Passwords,
  progress: (m: string) => void,
): Promise<SandboxNode> {
  const node: SandboxNode = { name: 'new1', port, dataDir: join(ctx.dir, 'new1'), logFile: join(ctx.dir, 'new1.log') };
  progress(`initdb ${node.name} (${ctx.pgBin})`);
  await initPrimary(ctx, node, passwords);
  const started = await startNodeOnFreePort(ctx, node);
  await createRoles(started, passwords, false);
  return started;
}

async function cloneReplica(ctx: BuildContext, primary: SandboxNode, replica: SandboxNode): Promise<void> {
  if (ctx.layout) {
    await createCluster(ctx, ctx.layout, replica, ['--no-sync']);
    await emptyDataDir(replica);
  }
  await must(
    `pg_basebackup ${replica.name}`,
    [
      join(ctx.pgBin, 'pg_basebackup'),
      '-D',
      replica.dataDir,
      '-d',
      `host=127.0.0.1 port=${primary.port} user=${SANDBOX_USERS.replication}${ctx.replicationTrust ? '' : ` passfile=${ctx.passfile}`}`,
      '-c',
      'fast',
      '-X',
      'stream',
      '-R',
      '-C',
      '-S',
      replica.name,
      '--no-sync',
    ],
    ctx.identity,
  );
  // Debian: its own postgresql.conf (outside the data directory) already names its port.
  if (!ctx.layout)
    await appendFile(join(replica.dataDir, 'postgresql.conf'), nodeOverrides(replica.port, replica.name));
}

const startNodeOnFreePort = (ctx: BuildContext, node: SandboxNode): Promise<SandboxNode> =>
  launchNodeOnFreePort(ctx.pgBin, node, ctx.identity, postgresqlConfOf(ctx.layout, node));

interface PoolerToStart {
  readonly name: string;
  readonly primaryPort: number;
  readonly passwords: Passwords;
}

/** Written and started; on a fresh port if another process took `port` first (see ports.ts). */
const startPgBouncer = (ctx: BuildContext, bin: string, pooler: PoolerToStart, port: number) =>
  onFreePort(port, (free) => startPgBouncerOn(ctx, bin, pooler, free));

async function startPgBouncerOn(
  ctx: BuildContext,
  bin: string,
  { name, primaryPort, passwords }: PoolerToStart,
  port: number,
): Promise<SandboxPooler> {
  const dir = join(ctx.dir, name);
  await mkdir(dir, { mode: 0o700, recursive: true });
  if (ctx.osUser) {
    const user = findOsUser(ctx.osUser)!;
    await chown(dir, user.uid, user.gid);
  }
  const configFile = join(dir, 'pgbouncer.ini');
  await writeOwned(configFile, pgbouncerIni({ dir, port, primaryPort }), ctx.osUser, 0o600);
  await writeOwned(join(dir, 'userlist.txt'), userlist(passwords), ctx.osUser, 0o600);
  const pooler = {
    name,
    port,
    configFile,
    pidFile: join(dir, 'pgbouncer.pid'),
    logFile: join(dir, 'pgbouncer.log'),
    database: SANDBOX_USERS.database,
  };
  await launchPgBouncer(bin, pooler, ctx.identity);
  return pooler;
}

export async function waitForStreaming(primary: SandboxNode, passwords: Passwords, replicas: number): Promise<void> {
  const session = await NodeSession.open(primary.name, superuserConn(primary.port, passwords.superuser));
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const row = await session.one<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'`,
      );
      if (row.n >= replicas) return;
      if (Date.now() > deadline)
        throw new EnvironmentError(`only ${row.n} of ${replicas} replicas streaming after 30 s`);
      await sleep(25);
    }
  } finally {
    await session.close();
  }
}

/**
 * The same inventory for both backends; a container node adds how its peers reach it
 * (connect_address), how to run commands on its host (docker exec) and its STONITH (docker kill).
 */
/**
 * The managed stand-in: a platform admin role with what Cloud SQL's, RDS's and Azure's admins
 * hold (no superuser), the tool's own passfile without the superuser, and the control plane's
 * directory (its secret: the superuser's password, which only it reads).
 */
async function buildControlPlane(
  dir: string,
  primary: SandboxNode,
  passwords: Passwords,
  options: { promoteDelayMs: number },
  poolerPorts: readonly number[],
): Promise<NonNullable<SandboxManifest['managed']>> {
  const adminPassword = newSecret();
  const session = await NodeSession.open(primary.name, superuserConn(primary.port, passwords.superuser));
  try {
    await session.query(
      `CREATE ROLE ${SANDBOX_USERS.platformAdmin} WITH LOGIN CREATEROLE CREATEDB PASSWORD '${adminPassword}'`,
    );
    await session.query(`GRANT pg_monitor, pg_signal_backend TO ${SANDBOX_USERS.platformAdmin}`);
    await session.query(`GRANT CREATE ON DATABASE postgres TO ${SANDBOX_USERS.platformAdmin}`);
  } finally {
    await session.close();
  }
  const cp = controlPlaneDir(dir);
  await mkdir(cp, { mode: 0o700 });
  await writeFile(join(cp, 'secret'), `${passwords.superuser}\n`, { mode: 0o600 });
  await writeControlPlaneConfig(dir, { delayMs: options.promoteDelayMs, mode: 'ok' });
  // The tool's passwords: the platform admin's and the poolers' (the application's, their consoles'); no superuser.
  const passfile = join(dir, 'pgpass-managed');
  const poolerLines = pgpass(passwords, poolerPorts)
    .split('\n')
    .filter((l) => l && !l.includes(`:${SANDBOX_USERS.superuser}:`) && !l.includes(`:${SANDBOX_USERS.replication}:`));
  await writeFile(
    passfile,
    [...poolerLines, `127.0.0.1:*:*:${SANDBOX_USERS.platformAdmin}:${adminPassword}`, ''].join('\n'),
    {
      mode: 0o600,
    },
  );
  return {
    promoteDelayMs: options.promoteDelayMs,
    passfile,
    controlPlane: [process.execPath, join(packageRoot(), 'dist', 'sandbox', 'control-plane-main.js')],
  };
}

export function inventoryYaml(m: SandboxManifest): string {
  if (m.managed) return managedInventoryYaml(m, m.managed);
  const exec = (container: string) => ({ kind: 'command', command: execPrefix(container) });
  const inventory = {
    cluster: 'sandbox',
    passfile: 'pgpass',
    nodes: m.nodes.map((node) => ({
      name: node.name,
      dsn: `host=127.0.0.1 port=${node.port} user=${SANDBOX_USERS.superuser} dbname=postgres${m.tlsCaFile ? ` sslmode=verify-full sslrootcert=${m.tlsCaFile}` : ''}`,
      ...(node.container ? { connect_address: `${node.name}:5432` } : {}),
      data_dir: node.dataDir,
      bin_dir: m.pgBin,
      host_access: node.container
        ? exec(node.container.name)
        : m.osUser
          ? { kind: 'local', run_as: m.osUser }
          : { kind: 'local' },
      ...(node.service ? { service: node.service } : {}),
      ...(node.container ? { log_file: node.logFile, fence_command: ['docker', 'kill', node.container.name] } : {}),
    })),
    poolers: [
      ...m.poolers.map((pooler) => ({
        name: pooler.name,
        admin_dsn: `host=127.0.0.1 port=${pooler.port} user=${SANDBOX_USERS.poolerAdmin} dbname=pgbouncer`,
        config_file: pooler.configFile,
        ...(pooler.container ? { host_access: exec(pooler.container.name) } : {}),
        databases: [pooler.database],
        app_dsn: `host=127.0.0.1 port=${pooler.port} user=${SANDBOX_USERS.app} dbname=${pooler.database}`,
      })),
      ...(m.haproxy
        ? [
            {
              name: m.haproxy.name,
              kind: 'haproxy',
              runtime_api: m.haproxy.socket,
              frontend: m.haproxy.frontend,
              backend: m.haproxy.backend,
              state_file: m.haproxy.stateFile,
              app_dsn: `host=127.0.0.1 port=${m.haproxy.port} user=${SANDBOX_USERS.app} dbname=${SANDBOX_USERS.database}`,
            },
          ]
        : []),
    ],
  };
  const upgrade = m.upgradeTarget && {
    upgrade_target: {
      nodes: m.upgradeTarget.nodes.map((node) => ({
        name: node.name,
        dsn: `host=127.0.0.1 port=${node.port} user=${SANDBOX_USERS.superuser} dbname=postgres`,
        data_dir: node.dataDir,
        bin_dir: m.upgradeTarget!.pgBin,
        host_access: m.osUser ? { kind: 'local', run_as: m.osUser } : { kind: 'local' },
      })),
      databases: [SANDBOX_USERS.database],
    },
  };
  return `# Written by \`pg-handover sandbox up\`. Passwords are in ./pgpass, not here.\n${stringify({ ...inventory, ...upgrade })}`;
}

/**
 * A managed estate's inventory, as an operator writes one for Cloud SQL or RDS: each node by its
 * platform id, no host_access, no data_dir, the platform admin's login, and the platform's
 * commands as hooks (here the stand-in's).
 */
function managedInventoryYaml(m: SandboxManifest, managed: NonNullable<SandboxManifest['managed']>): string {
  const hook = (command: string) => [...managed.controlPlane, command, '--dir', m.dir, '{platform_id}'];
  const inventory = {
    cluster: 'sandbox-managed',
    passfile: 'pgpass-managed',
    nodes: m.nodes.map((node) => ({
      name: node.name,
      dsn: `host=127.0.0.1 port=${node.port} user=${SANDBOX_USERS.platformAdmin} dbname=postgres`,
      platform_id: `${PLATFORM_ID_PREFIX}${node.name}`,
      promote: { command: hook('promote') },
      switchover: { command: hook('switchover') },
      fence_command: hook('stop'),
      rebuild: { command: hook('rebuild') },
    })),
    poolers: m.poolers.map((pooler) => ({
      name: pooler.name,
      admin_dsn: `host=127.0.0.1 port=${pooler.port} user=${SANDBOX_USERS.poolerAdmin} dbname=pgbouncer`,
      config_file: pooler.configFile,
      databases: [pooler.database],
      app_dsn: `host=127.0.0.1 port=${pooler.port} user=${SANDBOX_USERS.app} dbname=${pooler.database}`,
    })),
  };
  return `# Written by \`pg-handover sandbox up --managed\`: a stand-in managed platform (no shell, no superuser). Passwords are in ./pgpass-managed.\n${stringify(inventory)}`;
}
