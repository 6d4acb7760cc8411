/** Preflight checks every router kind shares: each route sends clients to the primary, unpaused. Pure. */
import { fail, pass, type Check } from '../decide/checks.js';
import { nodeAt, type ClusterState } from '../model/cluster-state.js';
import type { NodeObservation } from '../model/node.js';
import type { Route } from '../model/router.js';

export function routeChecks(
  state: ClusterState,
  router: string,
  route: Route,
  primary: NodeObservation | undefined,
): Check[] {
  const node = nodeAt(state, route.host, route.port);
  const checks = [
    primary && node === primary.name
      ? pass('pooler-points-at-primary', `pooler ${router} sends ${route.name} to ${primary.name}`)
      : fail(
          'pooler-points-at-primary',
          `pooler ${router} sends ${route.name} to ${node ?? `${route.host}:${route.port}`}, not to the primary ${primary?.name ?? '(none)'}`,
        ),
  ];
  if (route.paused)
    checks.push(
      fail(
        'pooler-not-paused',
        `pooler ${router} has ${route.name} paused already (RESUME ${route.name} if nothing else is running)`,
      ),
    );
  return checks;
}
