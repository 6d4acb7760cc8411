/** PgBouncer, registered under the inventory kind `pgbouncer`. */
import type { RouterKind } from '../types.js';
import { routerAction } from '../types.js';
import { pgbouncerChecks } from './checks.js';
import { PgBouncerRouter } from './router.js';
import { pgbouncerSchema, pgbouncerSpec, withPasswords, type PgBouncerSpec } from './spec.js';

const admin = (spec: PgBouncerSpec, command: string) => routerAction(spec.name, `admin: ${command}`);

export const pgbouncer: RouterKind<PgBouncerSpec> = {
  kind: 'pgbouncer',
  schema: pgbouncerSchema,
  toSpec: pgbouncerSpec,
  withPasswords,
  open: (spec) => new PgBouncerRouter(spec),
  checks: pgbouncerChecks,
  describe: {
    hold: (spec, from, timeoutMs) => [
      ...spec.routes.map((db) => admin(spec, `PAUSE ${db}  (timeout ${timeoutMs} ms)`)),
      admin(spec, `PAUSE every other database it sends to ${from.name} (SHOW DATABASES; those made from * included)`),
    ],
    release: (spec) => spec.routes.map((db) => admin(spec, `RESUME ${db}`)),
    repoint: (spec, from, to, timeoutMs) => [
      routerAction(spec.name, `file: ${spec.configFile} and its %includes: [databases] ${spec.routes.join(', ')}, and every entry (* included) at ${from.name}, -> host=${to.host} port=${to.port} (atomic rename per file)`),
      admin(spec, 'RELOAD'),
      admin(spec, `SHOW DATABASES  (expect the new host/port; all poolers within ${timeoutMs} ms)`),
    ],
    verify: (spec) => [admin(spec, 'SHOW DATABASES'), ...(spec.app ? [`[${spec.name}] app login: SELECT inet_server_port() AS port, pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS ro`] : [])],
  },
};
