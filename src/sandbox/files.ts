/** The configuration files a sandbox writes: postgresql.conf additions, pg_hba, PgBouncer, pgpass. */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
export interface Passwords {
  readonly superuser: string;
  readonly replication: string;
  readonly app: string;
  readonly poolerAdmin: string;
}

export const SANDBOX_USERS = {
  superuser: 'handover',
  replication: 'replicator',
  app: 'app',
  poolerAdmin: 'pgbadmin',
  /** The managed stand-in's admin: what cloudsqlsuperuser / rds_superuser / azure_pg_admin hold, no superuser. */
  platformAdmin: 'platform_admin',
  database: 'appdb',
} as const;

export function postgresqlConf(port: number, clusterName: string): string {
  return `
# --- pg-handover sandbox ---
listen_addresses = '127.0.0.1'
port = ${port}
unix_socket_directories = ''
cluster_name = '${clusterName}'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
wal_keep_size = '256MB'
max_connections = 60
shared_buffers = '32MB'
# Sandbox only: the tests kill processes, never the machine, so the page cache survives them.
fsync = off
log_line_prefix = '%m [%p] %q%u@%d '
log_checkpoints = on
`;
}

export function nodeOverrides(port: number, clusterName: string): string {
  return `\n# --- pg-handover sandbox: this node ---\nport = ${port}\ncluster_name = '${clusterName}'\n`;
}

/** The container backend's: the cluster's own networks (and the published ports' bridge), passwords always. */
export const CONTAINER_HBA = `# pg-handover sandbox (containers): their own networks only, passwords always
host    all           all           0.0.0.0/0      scram-sha-256
host    replication   ${SANDBOX_USERS.replication}    0.0.0.0/0      scram-sha-256
`;

/** Before PG_HBA (the first matching line wins): replication from loopback without a password. */
export const TRUSTED_REPLICATION_HBA = `host    replication   ${SANDBOX_USERS.replication}    127.0.0.1/32   trust
`;

export const PG_HBA = `# pg-handover sandbox: loopback only, passwords always
host    all           all           127.0.0.1/32   scram-sha-256
host    replication   ${SANDBOX_USERS.replication}    127.0.0.1/32   scram-sha-256
`;

/** `primaryHost`/`listenAddr`: the container backend's (the primary by its network alias, every interface). */
export function pgbouncerIni(o: {
  dir: string;
  port: number;
  primaryPort: number;
  primaryHost?: string;
  listenAddr?: string;
}): string {
  return `[databases]
${SANDBOX_USERS.database} = host=${o.primaryHost ?? '127.0.0.1'} port=${o.primaryPort} dbname=${SANDBOX_USERS.database}

[pgbouncer]
listen_addr = ${o.listenAddr ?? '127.0.0.1'}
listen_port = ${o.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${o.dir}/userlist.txt
admin_users = ${SANDBOX_USERS.poolerAdmin}
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
query_wait_timeout = 120
logfile = ${o.dir}/pgbouncer.log
pidfile = ${o.dir}/pgbouncer.pid
ignore_startup_parameters = extra_float_digits,options
`;
}

/**
 * PgBouncer's auth file. The application's entry is the SCRAM verifier its role has on the
 * server (the same string: PgBouncer then logs in to the server with the keys the client proved,
 * computing nothing), not the password in clear. That is what a production userlist should hold
 * anyway, and it takes a PBKDF2 per server login out of the moment clients come back after a
 * switchover, when PgBouncer opens all its server connections to the new primary at once.
 */
export function userlist(p: Passwords): string {
  return `"${SANDBOX_USERS.app}" "${scramVerifier(p.app)}"\n"${SANDBOX_USERS.poolerAdmin}" "${p.poolerAdmin}"\n`;
}

const verifiers = new Map<string, string>();

/** SCRAM-SHA-256$4096:salt$StoredKey:ServerKey (RFC 7677), one per password per process: the role and the auth file get the same. */
export function scramVerifier(password: string): string {
  const known = verifiers.get(password);
  if (known) return known;
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, SCRAM_ITERATIONS, 32, 'sha256');
  const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  const verifier = `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
  verifiers.set(password, verifier);
  return verifier;
}

const SCRAM_ITERATIONS = 4096;

export function pgpass(p: Passwords, poolerPorts: readonly number[]): string {
  return [
    ...poolerPorts.flatMap((port) => [
      `127.0.0.1:${port}:*:${SANDBOX_USERS.app}:${p.app}`,
      `127.0.0.1:${port}:pgbouncer:${SANDBOX_USERS.poolerAdmin}:${p.poolerAdmin}`,
    ]),
    `127.0.0.1:*:*:${SANDBOX_USERS.superuser}:${p.superuser}`,
    `127.0.0.1:*:*:${SANDBOX_USERS.replication}:${p.replication}`,
    '',
  ].join('\n');
}
