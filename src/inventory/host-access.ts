/**
 * How the tool runs commands on a host (a node's, a pooler's): locally, as the files' owner when
 * we are root, or through a command prefix (ssh, sudo, `docker exec`). Shared by the node and
 * the router entries of the inventory.
 */
import { z } from 'zod';
import type { HostAccess } from './model.js';

const nonEmpty = z.string().min(1, { error: 'expected a non-empty string' });

export const hostAccessSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      kind: z.literal('local'),
      /** OS user that owns the data directory; commands run as it when we are root. */
      run_as: nonEmpty.optional(),
    }),
    z.strictObject({
      kind: z.literal('command'),
      /** argv prefix that runs a command on the host, e.g. [ssh, db1, sudo, -u, postgres] or [docker, exec, -i, db1]. */
      command: z.array(nonEmpty).min(1, { error: 'expected at least one word' }),
    }),
  ],
  { error: 'expected kind "local" or "command"' },
);

export const toHostAccess = (raw: z.output<typeof hostAccessSchema> | undefined): HostAccess | undefined =>
  raw === undefined
    ? undefined
    : raw.kind === 'local'
      ? { kind: 'local', runAs: raw.run_as }
      : { kind: 'command', command: raw.command };
