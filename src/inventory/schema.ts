/**
 * The inventory file: one cluster's Postgres nodes and poolers. Roles are never declared here;
 * they are observed. Shape checks are zod; cross-field rules live in `rules.ts`.
 */
import { z } from 'zod';
import { routerEntrySchema } from '../routers/registry.js';
import { hostAccessSchema } from './host-access.js';

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;
const nameField = z
  .string({ error: 'expected a name' })
  .regex(NAME, { error: 'expected letters, digits, "_", "-" or "." (at most 63)' });

export const portField = z
  .int({ error: 'expected integer 1–65535' })
  .min(1, { error: 'expected integer 1–65535' })
  .max(65535, { error: 'expected integer 1–65535' });

const nonEmpty = z.string().min(1, { error: 'expected a non-empty string' });

const connectionFields = {
  dsn: nonEmpty.optional(),
  host: nonEmpty.optional(),
  port: portField.optional(),
  user: nonEmpty.optional(),
  dbname: nonEmpty.optional(),
  password: z.string().optional(),
};

export const nodeSchema = z.strictObject({
  name: nameField,
  ...connectionFields,
  /**
   * host:port the other members (replicas' primary_conninfo) and the poolers use to reach this
   * node, when it differs from the tool's own (the dsn's): a NAT, a container network, a
   * published port. Default: the dsn's host and port.
   */
  connect_address: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]+:\d{1,5}$/, { error: 'expected host:port' })
    .optional(),
  data_dir: nonEmpty.optional(),
  /** Where `pg_ctl start` writes server output when the tool starts this node (default: where it goes now, else next to data_dir). */
  log_file: nonEmpty.optional(),
  bin_dir: nonEmpty.optional(),
  host_access: hostAccessSchema.optional(),
  /**
   * How its service manager starts and stops it (e.g. pg_ctlcluster, systemctl), run through
   * host_access instead of pg_ctl, so a managed server is never started behind its manager's back.
   * `stop` must be a fast shutdown: the fence still requires pg_control to say "shut down".
   */
  service: z
    .strictObject({
      start: z.array(nonEmpty).min(1, { error: 'expected a command as a list of words' }).optional(),
      stop: z.array(nonEmpty).min(1, { error: 'expected a command as a list of words' }).optional(),
    })
    .optional(),
  /**
   * STONITH for a failover: a command (a list of words, run by the tool on its own machine) that
   * makes sure this node can no longer serve, e.g. stop its VM or container. Exit 0 means fenced.
   */
  fence_command: z.array(nonEmpty).min(1, { error: 'expected a command as a list of words' }).optional(),
  /**
   * A managed platform's name for this node (an RDS instance id, a Cloud SQL instance): the
   * hooks' commands get it where they say {platform_id}.
   */
  platform_id: nonEmpty.optional(),
  /**
   * How this node is promoted when the tool has no shell on it and no superuser (a managed
   * platform): a command run on the tool's machine ({node}, {platform_id} substituted), and how
   * its completion is known: `wait`, another command, or else the tool's own poll of
   * pg_is_in_recovery(). Both are bounded by the promote step's timeout.
   */
  promote: z
    .strictObject({
      command: z.array(nonEmpty).min(1, { error: 'expected a command as a list of words' }),
      wait: z.array(nonEmpty).min(1, { error: 'expected a command as a list of words' }).optional(),
    })
    .optional(),
  /**
   * The platform's own switchover to this node, where the platform fences and syncs itself
   * (Cloud SQL `instances switchover`, Azure `replica promote --promote-mode switchover`, RDS
   * Blue/Green, Aurora global switchover): used by the `platform-switchover` playbook.
   */
  switchover: z
    .strictObject({
      command: z.array(nonEmpty).min(1, { error: 'expected a command as a list of words' }),
      wait: z.array(nonEmpty).min(1, { error: 'expected a command as a list of words' }).optional(),
    })
    .optional(),
  /** How to make this node a replica again where it cannot follow a new primary (a managed platform): a command, as `promote`'s. */
  rebuild: z
    .strictObject({ command: z.array(nonEmpty).min(1, { error: 'expected a command as a list of words' }) })
    .optional(),
  /** Failover preference among equally advanced replicas: higher first; 0 never becomes primary by failover. */
  priority: z
    .int({ error: 'expected an integer 0 or more' })
    .min(0, { error: 'expected an integer 0 or more' })
    .optional(),
});

/**
 * A major-version upgrade's target: the cluster on the new version that subscribes to this one
 * (logical replication, per database). Not one of `nodes`: another system, another version.
 */
export const upgradeTargetSchema = z.strictObject({
  /** Its nodes; the first is its primary (the subscriber). */
  nodes: z.array(nodeSchema).min(1, { error: 'expected at least one node (the new primary)' }),
  /** The databases to replicate (logical replication is per database); default: the poolers' databases. */
  databases: z.array(nameField).min(1, { error: 'expected at least one database' }).optional(),
});

export const inventorySchema = z.strictObject({
  cluster: nameField.optional(),
  passfile: nonEmpty.optional(),
  nodes: z
    .array(nodeSchema)
    .min(2, { error: 'expected at least two nodes (a primary and a replica)' })
    .max(100, { error: 'expected at most 100 nodes in one cluster' }),
  poolers: z.array(routerEntrySchema).min(1, { error: 'expected at least one pooler' }),
  /**
   * The application's roles, for the role fence (ALTER ROLE … NOLOGIN where the tool has no shell
   * and no superuser). Default: the roles the poolers log in as, and those with sessions now.
   */
  app_roles: z
    .array(z.string().min(1, { error: 'expected a role name' }))
    .min(1, { error: 'expected at least one role' })
    .optional(),
  upgrade_target: upgradeTargetSchema.optional(),
});

export type RawInventory = z.output<typeof inventorySchema>;
export type RawNode = z.output<typeof nodeSchema>;
