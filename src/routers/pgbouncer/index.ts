/** PgBouncer, registered under the inventory kind `pgbouncer`. */
import type { RouterKind } from '../types.js';
import { APP_LOGIN_SQL, routerAction } from '../types.js';
import { pgbouncerChecks } from './checks.js';
import { pgbouncerSchema, pgbouncerSpec, withPasswords, type PgBouncerSpec } from './spec.js';

const admin = (spec: PgBouncerSpec, command: string) => routerAction(spec.name, `admin: ${command}`);

export const pgbouncer: RouterKind<PgBouncerSpec> = {
  kind: 'pgbouncer',
  schema: pgbouncerSchema,
  toSpec: pgbouncerSpec,
  withPasswords,
  open: async (spec) => new (await import('./router.js')).PgBouncerRouter(spec),
  checks: pgbouncerChecks,
  describe: {
    hold: (spec, from, timeoutMs) => [
      ...spec.routes.map((db) => admin(spec, `PAUSE ${db}  (timeout ${timeoutMs} ms)`)),
      admin(spec, `PAUSE every other database it sends to ${from.name} (SHOW DATABASES; those made from * included)`),
      admin(
        spec,
        'SET server_login_retry = 0  (a client logging in during the PAUSE would otherwise make PgBouncer wait that long after RESUME; restored once a login succeeds)',
      ),
    ],
    fence: (spec, from, timeoutMs) =>
      timeoutMs <= 0
        ? [
            ...spec.routes.map((db) =>
              admin(
                spec,
                `KILL ${db}  (${from.name} is hung: its server connections never finish; KILL drops them, new clients wait for RESUME)`,
              ),
            ),
            admin(
              spec,
              `KILL every other database it sends to ${from.name} (SHOW DATABASES; those made from * included)`,
            ),
            admin(
              spec,
              'SET server_login_retry = 0  (until a login to the new primary succeeds; then its configured value again)',
            ),
          ]
        : [
            ...spec.routes.map((db) => admin(spec, `PAUSE ${db}`)),
            admin(
              spec,
              `PAUSE every other database it sends to ${from.name} (SHOW DATABASES; those made from * included)`,
            ),
            admin(
              spec,
              `if those PAUSEs do not finish within ${timeoutMs} ms (server connections stuck on ${from.name}): KILL each of them (drops their connections; new clients wait for RESUME)`,
            ),
            admin(
              spec,
              'SET server_login_retry = 0  (after failed connects to the dead primary PgBouncer would wait that long before trying the new one; restored once a login to it succeeds)',
            ),
          ],
    release: (spec) => spec.routes.map((db) => admin(spec, `RESUME ${db}`)),
    repoint: (spec, from, to, timeoutMs) => [
      routerAction(
        spec.name,
        `file: ${spec.configFile}${spec.hostAccess?.kind === 'command' ? ` (on its host, via ${spec.hostAccess.command.join(' ')})` : ''} and its %includes: [databases] ${spec.routes.join(', ')}, and every entry (* included) at ${from.name}, -> host=${to.host} port=${to.port} (atomic rename per file)`,
      ),
      admin(spec, 'RELOAD'),
      admin(spec, `SHOW DATABASES  (expect the new host/port; all poolers within ${timeoutMs} ms)`),
    ],
    verify: (spec) => [
      admin(spec, 'SHOW DATABASES'),
      ...(spec.app ? [`[${spec.name}] app login: ${APP_LOGIN_SQL}`] : []),
    ],
  },
};
