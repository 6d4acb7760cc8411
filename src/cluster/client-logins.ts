/**
 * What a new client meets through each router, when one primary answers: a login that lands
 * there, writable, or the router's refusal. A router can point at the right node and still turn
 * every client away (PgBouncer for server_login_retry after its last login to a server that
 * crashed and came back: seen in the soak, seconds after a `check` said ready). One login each,
 * in parallel, bounded by `timeoutMs`. Used by `check` and by a re-run that would close a
 * half-done run's record because its goal looks met.
 */
import type { Inventory } from '../inventory/model.js';
import { primariesOf, type ClusterState } from '../model/cluster-state.js';
import { routeTargetOf, type NewClients } from '../routers/types.js';
import type { Connections } from './connections.js';

export async function clientLogins(
  connections: Connections,
  inventory: Inventory,
  state: ClusterState,
  timeoutMs: number,
  applicationName: string,
): Promise<Record<string, NewClients>> {
  const primaries = primariesOf(state);
  const spec = inventory.nodes.find((n) => n.name === primaries[0]?.name);
  if (primaries.length !== 1 || !spec) return {};
  const to = routeTargetOf(spec, state.addresses, state.nodes);
  const entries = await Promise.all(
    [...connections.routers.values()].map(
      async (router) => [router.spec.name, await router.clients(to, timeoutMs, applicationName)] as const,
    ),
  );
  return Object.fromEntries(entries.filter((e): e is readonly [string, NewClients] => e[1] !== undefined));
}

/** Each router's problems, for `check`'s report. */
export const problemsOf = (logins: Readonly<Record<string, NewClients>>): Record<string, readonly string[]> =>
  Object.fromEntries(Object.entries(logins).map(([router, met]) => [router, met.problems]));

/** What routers that answered did to the client, one line each, named by router; none: an empty list. */
export function refusedLines(logins: Readonly<Record<string, NewClients>>): string[] {
  return Object.entries(logins).flatMap(([router, met]) =>
    met.routerSilent ? [] : met.problems.map((p) => `${router}: ${p}`),
  );
}
