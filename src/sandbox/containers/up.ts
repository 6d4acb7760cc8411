/**
 * The container backend of `sandbox up`: every PostgreSQL node and every PgBouncer on its own
 * host (a container, started with testcontainers), so the tool reaches them as it reaches real
 * hosts: `docker exec` as the host_access prefix (the path an ssh prefix takes), the pooler's
 * config file on the pooler's host, and the servers by the names their peers use.
 *
 * Two networks, so a test can cut one link and keep the other:
 * - `access` (a bridge): the ports published on 127.0.0.1 for the tool and the tests;
 * - `cluster` (internal, no route out): replication and pooler traffic, each node by its name.
 * Cutting a node's cluster link partitions it from its peers while the tool still sees it;
 * cutting its access link hides it from the tool while it keeps serving its peers.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EnvironmentError } from '../../errors.js';
import { describeFailure, run } from '../../shell/exec.js';
import { hostRunner, type HostRunner } from '../../shell/host.js';
import {
  CONTAINER_HBA,
  SANDBOX_USERS,
  pgbouncerIni,
  pgpass,
  postgresqlConf,
  userlist,
  type Passwords,
} from '../files.js';
import {
  manifestPath,
  writeManifest,
  type SandboxManifest,
  type SandboxNode,
  type SandboxPooler,
} from '../manifest.js';
import { freePorts } from '../ports.js';
import {
  createRoles,
  inventoryYaml,
  newSecret,
  prepareDir,
  waitForStreaming,
  type SandboxUpOptions,
  type SandboxUpResult,
} from '../up.js';
import { ensureImage, execPrefix } from './engine.js';
import { containerLabels, pruneStaleSandboxes, removeSandbox } from './labels.js';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const PGBOUNCER_BIN = '/usr/sbin/pgbouncer';
const HOME = '/var/lib/postgresql';
const PG_PORT = 5432;
const POOLER_PORT = 6432;

export async function containerSandboxUp(options: SandboxUpOptions): Promise<SandboxUpResult> {
  const started = performance.now();
  const dir = resolve(options.dir);
  const replicas = options.replicas ?? 2;
  const poolerCount = options.poolers ?? 1;
  const progress = options.onProgress ?? (() => undefined);
  if (options.layout === 'debian' || options.tls)
    throw new EnvironmentError(
      '--backend containers builds the plain layout without TLS; leave out --layout debian and --tls',
    );
  await prepareDir(dir, undefined);
  const image = await ensureImage(progress);
  await pruneStaleSandboxes();

  const id = randomBytes(3).toString('hex');
  const labels = containerLabels(id, dir);
  const passwords: Passwords = {
    superuser: newSecret(),
    replication: newSecret(),
    app: newSecret(),
    poolerAdmin: newSecret(),
  };
  const ports = await freePorts(replicas + 1 + poolerCount);
  progress(`networks pgh-${id}-access, pgh-${id}-cluster`);
  const accessNetwork = `pgh-${id}-access`;
  await docker(['network', 'create', ...labelArgs(labels), accessNetwork]);
  const { name: clusterNetwork, subnet } = await createClusterNetwork(id, labels);

  const nodes: SandboxNode[] = Array.from({ length: replicas + 1 }, (_, i) => ({
    name: `pg${i + 1}`,
    port: ports[i]!,
    dataDir: `${HOME}/sandbox/pg${i + 1}`,
    logFile: `${HOME}/sandbox/pg${i + 1}.log`,
    container: { name: `pgh-${id}-pg${i + 1}`, clusterIp: `${subnet}.${10 + i}` },
  }));
  const poolers: SandboxPooler[] = ports.slice(replicas + 1).map((port, i) => {
    const name = i === 0 ? 'pgbouncer' : `pgbouncer${i + 1}`;
    const home = `${HOME}/${name}`;
    return {
      name,
      port,
      configFile: `${home}/pgbouncer.ini`,
      pidFile: `${home}/pgbouncer.pid`,
      logFile: `${home}/pgbouncer.log`,
      database: SANDBOX_USERS.database,
      container: { name: `pgh-${id}-${name}`, clusterIp: `${subnet}.${100 + i}` },
    };
  });
  const passfile = join(dir, 'pgpass');
  await writeFile(
    passfile,
    pgpass(
      passwords,
      poolers.map((p) => p.port),
    ),
    { mode: 0o600 },
  );
  // Written now, so that `down` finds the containers even if the rest fails.
  const manifest: SandboxManifest = {
    dir,
    pgBin: PG_BIN,
    pgbouncerBin: PGBOUNCER_BIN,
    nodes,
    poolers,
    inventoryFile: join(dir, 'inventory.yaml'),
    passfile,
    layout: 'plain',
    createdAt: new Date().toISOString(),
    backend: 'containers',
    containers: { id, image, accessNetwork, clusterNetwork },
  };
  await writeManifest(manifest);
  try {
    await build(manifest, passwords, progress);
  } catch (error) {
    await removeSandbox(id);
    await rm(manifestPath(dir), { force: true });
    throw error;
  }
  return { manifest, elapsedMs: performance.now() - started };
}

async function build(
  manifest: SandboxManifest,
  passwords: Passwords,
  progress: (message: string) => void,
): Promise<void> {
  const { nodes, poolers, containers } = manifest;
  const { image, accessNetwork, clusterNetwork, id } = containers!;
  const labels = containerLabels(id, manifest.dir);
  progress(`containers: ${[...nodes, ...poolers].map((h) => h.name).join(', ')} (${image})`);
  await Promise.all([
    ...nodes.map((n) =>
      startContainer(image, n.container!, n.name, labels, accessNetwork, clusterNetwork, PG_PORT, n.port),
    ),
    ...poolers.map((p) =>
      startContainer(image, p.container!, p.name, labels, accessNetwork, clusterNetwork, POOLER_PORT, p.port),
    ),
  ]);

  const primary = nodes[0]!;
  progress(`initdb ${primary.name}`);
  await initPrimary(primary, passwords);
  await createRoles(primary, passwords, false);
  progress(
    `pg_basebackup ${nodes
      .slice(1)
      .map((n) => n.name)
      .join(', ')}`,
  );
  await Promise.all(nodes.slice(1).map((replica) => cloneReplica(replica, primary, passwords)));
  progress(poolers.length > 1 ? `${poolers.length} pgbouncers` : 'pgbouncer');
  await Promise.all(poolers.map((pooler) => startPgBouncer(pooler, primary, passwords)));
  await waitForStreaming(primary, passwords, nodes.length - 1);
  await writeFile(manifest.inventoryFile, inventoryYaml(manifest));
}

const labelArgs = (labels: Record<string, string>): string[] =>
  Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);

async function docker(args: string[], input?: string): Promise<string> {
  const result = await run(['docker', ...args], { timeoutMs: 60_000, input });
  if (!result.ok) throw new EnvironmentError(describeFailure(`docker ${args.slice(0, 2).join(' ')}`, result));
  return result.stdout;
}

/**
 * An internal network with a subnet of its own, so each container keeps its address when a fault
 * test reconnects it (PgBouncer caches what a name resolved to). A random /24 under 10.213/16,
 * tried again if another network has it.
 */
async function createClusterNetwork(
  id: string,
  labels: Record<string, string>,
): Promise<{ name: string; subnet: string }> {
  const name = `pgh-${id}-cluster`;
  for (let attempt = 0; ; attempt++) {
    const subnet = `10.213.${Math.floor(Math.random() * 256)}`;
    const result = await run(
      ['docker', 'network', 'create', '--internal', '--subnet', `${subnet}.0/24`, ...labelArgs(labels), name],
      { timeoutMs: 60_000 },
    );
    if (result.ok) return { name, subnet };
    if (attempt >= 8 || !/overlap/i.test(result.stderr))
      throw new EnvironmentError(describeFailure('docker network create (cluster)', result));
  }
}

async function startContainer(
  image: string,
  container: { name: string; clusterIp: string },
  alias: string,
  labels: Record<string, string>,
  accessNetwork: string,
  clusterNetwork: string,
  containerPort: number,
  hostPort: number,
): Promise<void> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true'; // its reaper image cannot be pulled here; `down` removes by label
  const { sandboxContainer } = await import('./testcontainer.js');
  await (
    await sandboxContainer(image)
  )
    .withName(container.name)
    // No hostname: Docker would make it a name on the access network too, and a cut cluster link
    // would not partition the node from its peers.
    .withLabels(labels)
    .withNetworkMode(accessNetwork)
    .withCommand(['sleep', 'infinity'])
    .publishOnLoopback(containerPort, hostPort)
    .withStartupTimeout(60_000)
    .start();
  await docker(['network', 'connect', '--ip', container.clusterIp, '--alias', alias, clusterNetwork, container.name]);
}

const runnerOf = (host: { name: string; container?: { name: string } }): HostRunner =>
  hostRunner(host.name, { kind: 'command', command: execPrefix(host.container!.name) }, 'sandbox')!;

async function must(
  host: { name: string; container?: { name: string } },
  what: string,
  argv: string[],
  input?: string,
): Promise<void> {
  const result = await runnerOf(host).run(argv, { timeoutMs: 90_000, input });
  if (!result.ok) throw new EnvironmentError(describeFailure(`${what} (${host.name})`, result));
}

/** A file inside the container, from standard input, readable by its owner only. */
const writeInside = (host: SandboxNode | SandboxPooler, path: string, text: string): Promise<void> =>
  must(
    host,
    `writing ${path}`,
    ['sh', '-c', 'umask 077 && mkdir -p "$(dirname "$1")" && cat > "$1"', 'sh', path],
    text,
  );

/** Every node's own passfile for replication: any of them may stream from another after a switchover. */
const PASSFILE = `${HOME}/.pgpass`;
const writePassfile = (node: SandboxNode, passwords: Passwords): Promise<void> =>
  writeInside(node, PASSFILE, `*:*:*:${SANDBOX_USERS.replication}:${passwords.replication}\n`);

async function initPrimary(node: SandboxNode, passwords: Passwords): Promise<void> {
  await writePassfile(node, passwords);
  const pwfile = `${HOME}/.initdb-pw`;
  await writeInside(node, pwfile, `${passwords.superuser}\n`);
  await must(node, 'initdb', [
    `${PG_BIN}/initdb`,
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
  ]);
  await must(node, 'removing the password file', ['rm', '-f', pwfile]);
  await must(
    node,
    'postgresql.conf',
    ['sh', '-c', 'cat >> "$1"', 'sh', `${node.dataDir}/postgresql.conf`],
    `${postgresqlConf(PG_PORT, node.name)}listen_addresses = '*'\n`,
  );
  await writeInside(node, `${node.dataDir}/pg_hba.conf`, CONTAINER_HBA);
  await startNodeInside(node);
}

const startNodeInside = (node: SandboxNode): Promise<void> =>
  must(node, 'pg_ctl start', [`${PG_BIN}/pg_ctl`, '-D', node.dataDir, '-l', node.logFile, '-w', '-t', '30', 'start']);

/** From the primary by its name on the cluster network, with the replication password in the replica's own passfile. */
async function cloneReplica(replica: SandboxNode, primary: SandboxNode, passwords: Passwords): Promise<void> {
  await writePassfile(replica, passwords);
  await must(replica, 'pg_basebackup', [
    `${PG_BIN}/pg_basebackup`,
    '-D',
    replica.dataDir,
    '-d',
    `host=${primary.name} port=${PG_PORT} user=${SANDBOX_USERS.replication} passfile=${PASSFILE}`,
    '-c',
    'fast',
    '-X',
    'stream',
    '-R',
    '-C',
    '-S',
    replica.name,
    '--no-sync',
  ]);
  await must(
    replica,
    'postgresql.conf',
    ['sh', '-c', 'cat >> "$1"', 'sh', `${replica.dataDir}/postgresql.conf`],
    `\ncluster_name = '${replica.name}'\n`,
  );
  await startNodeInside(replica);
}

async function startPgBouncer(pooler: SandboxPooler, primary: SandboxNode, passwords: Passwords): Promise<void> {
  const home = `${HOME}/${pooler.name}`;
  await writeInside(
    pooler,
    pooler.configFile,
    pgbouncerIni({ dir: home, port: POOLER_PORT, primaryPort: PG_PORT, primaryHost: primary.name, listenAddr: '*' }),
  );
  await writeInside(pooler, `${home}/userlist.txt`, userlist(passwords));
  await must(pooler, 'pgbouncer', [PGBOUNCER_BIN, '-d', pooler.configFile]);
}
