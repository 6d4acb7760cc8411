/** A PgBouncer in the inventory: its admin console, its config file and the databases it pools. */
import { z } from 'zod';
import { hostAccessSchema, toHostAccess } from '../../inventory/host-access.js';
import type { ConnParams, HostAccess, RouterSpec } from '../../inventory/model.js';
import type { InventoryTools } from '../types.js';

export interface PgBouncerSpec extends RouterSpec {
  readonly kind: 'pgbouncer';
  readonly admin: ConnParams;
  /** Rewritten to repoint; its `[databases]` entries name the routes. */
  readonly configFile: string;
  /** How to reach the host the config file is on, when it is not this machine (PgBouncer on its own host). */
  readonly hostAccess?: HostAccess;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;
const nameField = z
  .string({ error: 'expected a name' })
  .regex(NAME, { error: 'expected letters, digits, "_", "-" or "." (at most 63)' });
const nonEmpty = z.string().min(1, { error: 'expected a non-empty string' });

export const pgbouncerSchema = z.strictObject({
  name: nameField,
  kind: z.literal('pgbouncer'),
  admin_dsn: nonEmpty,
  config_file: nonEmpty,
  /** Where config_file lives, when not on this machine: read and replaced there (e.g. [ssh, pgb1] or [docker, exec, -i, pgb1]). */
  host_access: hostAccessSchema.optional(),
  databases: z.array(nameField).min(1, { error: 'expected at least one pooled database' }),
  /** Optional application login through the pooler, used to verify writes land on the new primary. */
  app_dsn: nonEmpty.optional(),
});

export function pgbouncerSpec(
  input: Record<string, unknown>,
  at: readonly PropertyKey[],
  tools: InventoryTools,
): PgBouncerSpec {
  const raw = input as z.output<typeof pgbouncerSchema>;
  const seen = new Set<string>();
  if (raw.host_access?.kind === 'command' && !raw.config_file.startsWith('/')) {
    tools.report([...at, 'config_file'], 'expected an absolute path on the host that host_access reaches');
  }
  raw.databases.forEach((db, j) => {
    if (seen.has(db)) tools.report([...at, 'databases', j], `duplicate database "${db}"`);
    seen.add(db);
  });
  return {
    name: raw.name,
    kind: 'pgbouncer',
    admin: tools.conn(raw.admin_dsn, [...at, 'admin_dsn'], { dbname: 'pgbouncer', why: "PgBouncer's admin console" }),
    // A path on another host is that host's, not relative to the inventory file.
    configFile: raw.host_access?.kind === 'command' ? raw.config_file : tools.file(raw.config_file),
    hostAccess: toHostAccess(raw.host_access),
    routes: raw.databases,
    app: raw.app_dsn ? tools.conn(raw.app_dsn, [...at, 'app_dsn']) : undefined,
  };
}

export async function withPasswords(
  spec: PgBouncerSpec,
  fill: (conn: ConnParams) => Promise<ConnParams>,
): Promise<PgBouncerSpec> {
  return { ...spec, admin: await fill(spec.admin), app: spec.app ? await fill(spec.app) : undefined };
}
