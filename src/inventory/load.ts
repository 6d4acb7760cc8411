/**
 * Reads an inventory file: YAML → `${env:NAME}` substitution → zod shape → cross-field rules →
 * passwords from the file, the environment or a password file. Every problem is a BadInputError.
 */
import { createReadStream, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { getPassword } from 'pgpass/lib/helper.js';
import { registerSecret } from '../util/secrets.js';
import { BadInputError } from '../errors.js';
import {
  formatPath,
  problemsError,
  readYamlFile,
  validateSource,
  type SourceProblem,
  type YamlSource,
} from '../util/yaml-source.js';
import { DsnError, isPort, parseDsn, SSL_MODES } from './dsn.js';
import { toHostAccess } from './host-access.js';
import type { ConnParams, HostPort, Inventory, NodeSpec, RouterSpec } from './model.js';
import { routerKind } from '../routers/registry.js';
import type { InventoryTools } from '../routers/types.js';
import { inventorySchema, type RawInventory, type RawNode } from './schema.js';

export async function loadInventory(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Inventory> {
  const source = await readYamlFile(file, 'inventory');
  return buildInventory(source, env);
}

export async function buildInventory(source: YamlSource, env: NodeJS.ProcessEnv): Promise<Inventory> {
  const substituted = substituteEnv(source, env);
  const raw = validateSource(substituted, inventorySchema);
  const problems: SourceProblem[] = [];
  const report = (path: PropertyKey[], message: string) =>
    problems.push({ path: formatPath(path), message, line: source.lineOf(path) });

  const nodes = raw.nodes.map((node, i) => toNodeSpec(node, ['nodes', i], report));
  const tools: InventoryTools = {
    conn: (dsn, at, expectDb) => toConn({ dsn }, [...at], report, expectDb),
    file: (path) => resolve(dirname(source.file), path),
    report: (at, message) => report([...at], message),
  };
  const poolers = raw.poolers.map((pooler, i): RouterSpec =>
    routerKind(pooler.kind as string).toSpec(pooler, ['poolers', i], tools),
  );
  const upgradeNodes = (raw.upgrade_target?.nodes ?? []).map((node, i) =>
    toNodeSpec(node, ['upgrade_target', 'nodes', i], report),
  );
  checkRules(raw, nodes, poolers, report);
  upgradeNodes.forEach((node, i) => {
    if ([...nodes, ...upgradeNodes.slice(0, i)].some((n) => n.name === node.name))
      report(['upgrade_target', 'nodes', i, 'name'], `duplicate node name "${node.name}"`);
  });
  const databases = raw.upgrade_target?.databases ?? [
    ...new Set(poolers.filter((p) => p.kind === 'pgbouncer').flatMap((p) => p.routes)),
  ];
  if (raw.upgrade_target && !databases.length)
    report(['upgrade_target', 'databases'], 'expected the databases to replicate (no PgBouncer names any)');
  if (problems.length > 0) throw problemsError(source.file, problems);

  const passfile = raw.passfile ? resolve(dirname(source.file), raw.passfile) : env.PGPASSFILE;
  if (raw.passfile && passfile && !existsSync(passfile)) {
    throw problemsError(source.file, [
      { path: 'passfile', message: `file not found: ${passfile}`, line: source.lineOf(['passfile']) },
    ]);
  }
  const withPassword = (conn: ConnParams) => resolvePassword(conn, passfile);
  return {
    file: source.file,
    cluster: raw.cluster ?? 'cluster',
    ...(passfile ? { passfile } : {}),
    ...(raw.app_roles ? { appRoles: raw.app_roles } : {}),
    nodes: await Promise.all(nodes.map(async (n) => ({ ...n, conn: await withPassword(n.conn) }))),
    poolers: await Promise.all(poolers.map((p) => routerKind(p.kind).withPasswords(p, withPassword))),
    ...(raw.upgrade_target
      ? {
          upgradeTarget: {
            nodes: await Promise.all(upgradeNodes.map(async (n) => ({ ...n, conn: await withPassword(n.conn) }))),
            databases,
          },
        }
      : {}),
  };
}

type Report = (path: PropertyKey[], message: string) => void;

function toNodeSpec(node: RawNode, at: PropertyKey[], report: Report): NodeSpec {
  const hasFields =
    node.host !== undefined || node.port !== undefined || node.user !== undefined || node.dbname !== undefined;
  if (node.dsn !== undefined && hasFields) {
    report([...at, 'dsn'], 'give either dsn or host/port/user/dbname, not both');
  }
  if (node.service && !node.host_access) {
    report([...at, 'service'], "needs host_access (the commands run on the node's host)");
  }
  const access = node.host_access;
  return {
    name: node.name,
    conn: toConn(node, [...at, node.dsn !== undefined ? 'dsn' : 'host'], report),
    connectAddress: node.connect_address
      ? hostPort(node.connect_address, [...at, 'connect_address'], report)
      : undefined,
    dataDir: node.data_dir,
    logFile: node.log_file,
    binDir: node.bin_dir,
    hostAccess: toHostAccess(access),
    service: node.service,
    fenceCommand: node.fence_command,
    priority: node.priority,
    ...(node.platform_id ? { platformId: node.platform_id } : {}),
    ...(node.promote ? { promote: node.promote } : {}),
    ...(node.rebuild ? { rebuild: node.rebuild } : {}),
    ...(node.switchover ? { switchover: node.switchover } : {}),
  };
}

function hostPort(text: string, at: PropertyKey[], report: Report): HostPort {
  const split = text.lastIndexOf(':');
  const host = text.slice(0, split);
  const port = Number(text.slice(split + 1));
  if (!(port >= 1 && port <= 65535)) report(at, `expected host:port with a port 1–65535, got ${JSON.stringify(text)}`);
  else if (!isHostName(host)) report(at, `expected a host name or IP address before ":", got ${JSON.stringify(host)}`);
  return { host, port };
}

interface ConnInput {
  dsn?: string;
  host?: string;
  port?: number;
  user?: string;
  dbname?: string;
  password?: string;
}

function toConn(
  input: ConnInput,
  at: PropertyKey[],
  report: Report,
  expectDb?: { dbname: string; why: string },
): ConnParams {
  let map: Record<string, string> = {};
  if (input.dsn !== undefined) {
    try {
      map = { ...parseDsn(input.dsn) };
    } catch (error) {
      if (!(error instanceof DsnError)) throw error;
      report(at, error.message);
      return { host: '?', port: 5432, user: '?', dbname: '?', extra: {} };
    }
  }
  const { host, port, user, dbname, password, ...extra } = map;
  const conn: ConnParams = {
    host: input.host ?? host ?? '',
    port: input.port ?? (port !== undefined && isPort(port) ? Number(port) : 5432),
    user: input.user ?? user ?? 'postgres',
    dbname: input.dbname ?? dbname ?? expectDb?.dbname ?? 'postgres',
    password: input.password ?? password,
    extra,
  };
  registerSecret(conn.password);
  for (const key of Object.keys(extra)) {
    if (!HONOURED_KEYS.has(key))
      report(
        at,
        `${key}: not supported here (${REFUSED_BECAUSE[key] ?? 'pg-handover would ignore it'}); supported: ${[...HONOURED_KEYS].join(', ')}`,
      );
  }
  if (extra.connect_timeout !== undefined && !/^[1-9][0-9]{0,4}$/.test(extra.connect_timeout)) {
    report(at, `connect_timeout: expected a whole number of seconds, got ${JSON.stringify(extra.connect_timeout)}`);
  }
  if (extra.sslmode !== undefined && !(SSL_MODES as readonly string[]).includes(extra.sslmode)) {
    report(at, `sslmode: expected one of ${SSL_MODES.join(', ')}, got ${JSON.stringify(extra.sslmode)}`);
  }
  if (conn.host === '') report(at, 'a host is required (TCP host name or address)');
  if (conn.host.startsWith('/')) report(at, `expected a TCP host, got a socket directory "${conn.host}"`);
  else if (conn.host !== '' && !isHostName(conn.host)) {
    report(
      at,
      `host: expected a host name or IP address (letters, digits, ".", "-", ":"), got ${JSON.stringify(conn.host)}`,
    );
  }
  if (expectDb && conn.dbname !== expectDb.dbname) {
    report(at, `expected dbname=${expectDb.dbname} (${expectDb.why}), got "${conn.dbname}"`);
  }
  return conn;
}

function checkRules(raw: RawInventory, nodes: NodeSpec[], poolers: RouterSpec[], report: Report): void {
  const seen = new Map<string, number>();
  raw.nodes.forEach((node, i) => {
    const previous = seen.get(node.name);
    if (previous !== undefined)
      report(['nodes', i, 'name'], `duplicate node name "${node.name}" (also nodes[${previous}])`);
    else seen.set(node.name, i);
  });
  const endpoints = new Map<string, number>();
  nodes.forEach((node, i) => {
    const key = `${node.conn.host}:${node.conn.port}`;
    const previous = endpoints.get(key);
    if (previous !== undefined && node.conn.host !== '') {
      report(['nodes', i], `same host and port as nodes[${previous}] (${key})`);
    } else endpoints.set(key, i);
  });
  const poolerNames = new Set<string>();
  poolers.forEach((pooler, i) => {
    if (poolerNames.has(pooler.name)) report(['poolers', i, 'name'], `duplicate pooler name "${pooler.name}"`);
    poolerNames.add(pooler.name);
  });
}

/**
 * libpq keys beyond host/port/user/dbname/password that are honoured: TLS (postgres/tls.ts),
 * `connect_timeout` (opening the run's held sessions) and `options` (sent at start-up). Any other
 * key would be silently ignored, so it is refused before anything is contacted.
 */
const HONOURED_KEYS = new Set(['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'connect_timeout', 'options']);
const REFUSED_BECAUSE: Readonly<Record<string, string>> = {
  hostaddr: 'connections go to host; put the address in host=',
  service: 'pg_service.conf is not read; write the parameters out',
  passfile: "use the inventory's passfile: or $PGPASSFILE",
  application_name: 'pg-handover names its own sessions, so a run can recognise another',
  target_session_attrs: 'roles are observed, not asked for',
};

/**
 * One host name, IPv4 or IPv6 address. Host values reach command lines (primary_conninfo, exec
 * placeholders, ssh prefixes), so anything else (spaces, shell metacharacters, libpq's
 * comma-separated host lists) is refused before any server is contacted.
 */
export const isHostName = (host: string): boolean =>
  /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})$/.test(host) || (/^[0-9A-Fa-f:.]+$/.test(host) && host.includes(':'));

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces `${env:NAME}` in every string; a missing variable is a problem at that path. */
function substituteEnv(source: YamlSource, env: NodeJS.ProcessEnv): YamlSource {
  const problems: SourceProblem[] = [];
  const walk = (value: unknown, path: PropertyKey[]): unknown => {
    if (typeof value === 'string') {
      return value.replace(ENV_REF, (_, name: string) => {
        const found = env[name];
        if (found === undefined) {
          problems.push({
            path: formatPath(path),
            message: `environment variable ${name} is not set`,
            line: source.lineOf(path),
          });
          return '';
        }
        registerSecret(found);
        return found;
      });
    }
    if (Array.isArray(value)) return value.map((item, i) => walk(item, [...path, i]));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return value;
  };
  const data = walk(source.data, []);
  if (problems.length > 0) throw problemsError(source.file, problems);
  return { ...source, data };
}

/**
 * A DSN given on the command line (e.g. --fleet-lock), checked as the inventory's are; its
 * password from $PGPASSFILE (the operator's own, for a database outside the cluster), else the
 * inventory's password file.
 */
export async function connFromDsn(dsn: string, field: string, passfile: string | undefined): Promise<ConnParams> {
  const problems: string[] = [];
  const conn = toConn({ dsn }, [], (_at, message) => problems.push(message));
  if (problems.length) throw new BadInputError(`${field}: ${problems[0]}`, field.replace(/^--/, ''));
  const found = await resolvePassword(conn, process.env.PGPASSFILE);
  return found.password !== undefined ? found : resolvePassword(conn, passfile);
}

async function resolvePassword(conn: ConnParams, passfile: string | undefined): Promise<ConnParams> {
  if (conn.password !== undefined || !passfile || !existsSync(passfile)) return conn;
  const password = await new Promise<string | undefined>((done) => {
    const stream = createReadStream(passfile);
    stream.on('error', () => done(undefined));
    getPassword({ host: conn.host, port: conn.port, database: conn.dbname, user: conn.user }, stream, done);
  });
  registerSecret(password);
  return password === undefined ? conn : { ...conn, password };
}
