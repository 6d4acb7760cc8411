/** PgBouncer's preflight checks, on one observation of it. Pure. */
import { fail, pass, warn, type Check } from '../../decide/checks.js';
import type { RouterState } from '../../model/router.js';
import { formatMs } from '../../util/time.js';
import { routeChecks } from '../route-checks.js';
import { isTarget, routeTargetOf, type RouterCheckInput } from '../types.js';
import type { PgBouncerSpec } from './spec.js';

/** What PgBouncer's observation adds to its routes. */
export interface PgBouncerDetail {
  readonly config: Readonly<Record<string, string>>;
  /** host/port per pooled database as written in the config file. */
  readonly fileTargets: Readonly<Record<string, { host?: string; port?: number }>>;
  readonly fileError?: string;
  /** Why the config file could not be rewritten (atomically: a temp file in its directory, then rename). */
  readonly fileWriteError?: string;
  /** Databases it serves beyond the inventory's (explicit, or made from the `*` fallback). */
  readonly others: ReadonlyArray<{ readonly name: string; readonly host: string; readonly port: number }>;
  /** Addresses of each host its databases and entries name (`localhost`, a DNS name, a VIP). */
  readonly resolved: Readonly<Record<string, readonly string[]>>;
}

export function pgbouncerChecks(observed: RouterState, input: RouterCheckInput): Check[] {
  const { name } = observed;
  if (!observed.reachable)
    return [fail('pooler-reachable', `pooler ${name} admin console unreachable: ${observed.error}`)];
  const spec = input.state.inventory.poolers.find((p) => p.name === name) as PgBouncerSpec;
  const detail = observed.detail as PgBouncerDetail;
  const checks: Check[] = [pass('pooler-reachable', `pooler ${name} admin console answered`)];
  const fallback = detail.fileTargets['*'];
  for (const db of spec.routes) {
    const route = observed.routes.find((r) => r.name === db);
    if (!route && fallback && !detail.fileTargets[db]) {
      checks.push(
        warn(
          'pooler-database',
          `pooler ${name} serves ${db} through its * fallback and has no pool for it yet: a client that connects during the pause reaches the old primary; give ${db} its own entry to hold it too`,
        ),
      );
      continue;
    }
    if (!route) {
      checks.push(fail('pooler-database', `pooler ${name} has no database "${db}" (SHOW DATABASES)`));
      continue;
    }
    checks.push(
      pass(
        'pooler-database',
        `pooler ${name} serves ${db}${detail.fileTargets[db] ? '' : ' (through its * fallback)'}`,
      ),
      ...routeChecks(input.state, name, route, input.primary),
    );
    if (!detail.fileError && !detail.fileTargets[db] && !fallback)
      checks.push(
        fail(
          'pooler-config-file',
          `${db} has no entry in [databases] of the pooler's config file (or any file it %includes), and there is no * fallback`,
        ),
      );
  }
  const primary = input.primary && input.state.inventory.nodes.find((n) => n.name === input.primary!.name);
  const from = primary && routeTargetOf(primary, input.state.addresses);
  const alsoMoved = from
    ? detail.others.filter((d) => isTarget(from, d.host, d.port, detail.resolved)).map((d) => d.name)
    : [];
  if (alsoMoved.length) {
    checks.push(
      pass(
        'pooler-other-databases',
        `pooler ${name} also sends ${alsoMoved.join(', ')} to ${input.primary!.name}: held and repointed with the rest, so none stays on the old primary`,
      ),
    );
  }
  const mode = detail.config.pool_mode;
  checks.push(
    mode === 'transaction'
      ? pass('pooler-pool-mode', `pooler ${name} uses transaction pooling`)
      : warn(
          'pooler-pool-mode',
          `pooler ${name} uses ${mode} pooling: PAUSE waits for clients to disconnect and may time out`,
        ),
  );
  const waitTimeout = Number(detail.config.query_wait_timeout ?? '120') * 1000;
  checks.push(
    waitTimeout === 0 || waitTimeout >= input.pauseBudgetMs
      ? pass(
          'pooler-query-wait-timeout',
          `pooler ${name} query_wait_timeout ${waitTimeout / 1000} s covers the worst-case pause (${formatMs(input.pauseBudgetMs)})`,
        )
      : warn(
          'pooler-query-wait-timeout',
          `pooler ${name} query_wait_timeout ${waitTimeout / 1000} s is shorter than the worst-case pause (${formatMs(input.pauseBudgetMs)}): queued clients could be disconnected`,
        ),
  );
  if (detail.fileError) checks.push(fail('pooler-config-file', `pooler ${name}: ${detail.fileError}`));
  else if (detail.fileWriteError) checks.push(fail('pooler-config-file', `pooler ${name}: ${detail.fileWriteError}`));
  return checks;
}
