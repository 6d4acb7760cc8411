/** HAProxy's preflight checks, on one observation of it. Pure. */
import { fail, pass, warn, type Check } from '../../decide/checks.js';
import { nodeAt } from '../../model/cluster-state.js';
import type { RouterState } from '../../model/router.js';
import { routeChecks } from '../route-checks.js';
import { isTarget, routeTargetOf, type RouterCheckInput } from '../types.js';
import type { HaproxyDetail } from './router.js';
import { inMaint, maxconnDeadlocks, statusOf, usable } from './runtime-state.js';
import type { HaproxySpec } from './spec.js';

export function haproxyChecks(observed: RouterState, input: RouterCheckInput): Check[] {
  const { name } = observed;
  if (!observed.reachable)
    return [fail('pooler-reachable', `HAProxy ${name} runtime API unreachable: ${observed.error}`)];
  const spec = input.state.inventory.poolers.find((p) => p.name === name) as HaproxySpec;
  const detail = observed.detail as HaproxyDetail;
  const checks: Check[] = [pass('pooler-reachable', `HAProxy ${name} ${detail.version} runtime API answered`)];
  checks.push(
    detail.level === 'admin'
      ? pass('haproxy-api-level', `HAProxy ${name} runtime API is at level admin`)
      : fail(
          'haproxy-api-level',
          `HAProxy ${name} runtime API is at level ${detail.level || '(unknown)'}: changing server states needs "stats socket ... level admin"`,
        ),
  );
  if (detail.frontendError) checks.push(fail('haproxy-frontend', `HAProxy ${name}: ${detail.frontendError}`));
  if (detail.backendError)
    return [...checks, fail('haproxy-backend', `HAProxy ${name}: backend ${spec.backend}: ${detail.backendError}`)];

  const serverOf = (node: string) => {
    const target = routeTargetOf(
      input.state.inventory.nodes.find((n) => n.name === node)!,
      input.state.addresses,
    );
    const named = spec.servers[node];
    return named
      ? detail.servers.find((s) => s.name === named)
      : (detail.servers.find((s) => isTarget(target, s.addr, s.port, detail.resolved)) ??
          detail.servers.find((s) => s.name === node));
  };
  // A failover knows no live primary: the one the backend sends clients to is the one being replaced.
  const routed = observed.routes[0] && nodeAt(input.state, observed.routes[0].host, observed.routes[0].port);
  const primary = input.primary?.name ?? routed;
  for (const node of input.state.inventory.nodes) {
    const server = serverOf(node.name);
    const target = routeTargetOf(node, input.state.addresses);
    if (!server) {
      checks.push(
        node.name === primary
          ? fail(
              'haproxy-servers',
              `HAProxy ${name}: backend ${spec.backend} has no server for the primary ${node.name} (${target.host}:${target.port}); name it under servers:`,
            )
          : warn(
              'haproxy-servers',
              `HAProxy ${name}: backend ${spec.backend} has no server for ${node.name}: it cannot become the primary behind this HAProxy`,
            ),
      );
    } else if (!isTarget(target, server.addr, server.port, detail.resolved)) {
      checks.push(
        fail(
          'haproxy-servers',
          `HAProxy ${name}: ${spec.backend}/${server.name} is at ${server.addr}:${server.port}, not at ${node.name} (${target.host}:${target.port})`,
        ),
      );
    } else if (node.name !== primary && !inMaint(server)) {
      checks.push(
        fail(
          'haproxy-only-primary',
          `HAProxy ${name}: ${spec.backend}/${server.name} (${node.name}, not the primary) is ${statusOf(server)}, not MAINT: writes could reach a replica; mark it "disabled" in the config or "set server ${spec.backend}/${server.name} state maint"`,
        ),
      );
    } else if (node.name === primary && input.primary && !usable(server)) {
      checks.push(
        fail(
          'haproxy-primary-up',
          `HAProxy ${name}: the primary's server ${spec.backend}/${server.name} is ${statusOf(server)}`,
        ),
      );
    }
  }
  const strangers = detail.servers.filter(
    (s) => !inMaint(s) && !input.state.inventory.nodes.some((n) => serverOf(n.name) === s),
  );
  if (strangers.length)
    checks.push(
      fail(
        'haproxy-only-primary',
        `HAProxy ${name}: ${strangers.map((s) => `${spec.backend}/${s.name}`).join(', ')} ${strangers.length > 1 ? 'are' : 'is'} ready and not a node of the inventory`,
      ),
    );
  if (!checks.some((c) => c.verdict === 'fail' && c.id.startsWith('haproxy-'))) {
    checks.push(
      pass(
        'haproxy-only-primary',
        `HAProxy ${name}: in ${spec.backend} only the primary's server is ready, every other one in maintenance`,
      ),
    );
  }
  for (const route of observed.routes) checks.push(...routeChecks(input.state, name, route, input.primary));
  if (!spec.stateFile) {
    checks.push(
      warn(
        'haproxy-state-file',
        `HAProxy ${name}: no state_file: after the switch, a reload of HAProxy puts its servers back in their configured states (the old primary's ready); give HAProxy "server-state-file" and "load-server-state-from-file global", and the inventory that file as state_file`,
      ),
    );
  } else if (detail.stateFileProblem) {
    checks.push(
      fail(
        'haproxy-state-file',
        `HAProxy ${name}: ${detail.stateFileProblem}: the servers' states could not be saved for a reload`,
      ),
    );
  } else {
    checks.push(
      pass(
        'haproxy-state-file',
        `HAProxy ${name}: the servers' states are saved to ${spec.stateFile} after the switch, for a reload to load`,
      ),
    );
  }
  if (maxconnDeadlocks(detail.version)) {
    checks.push(
      warn(
        'haproxy-maxconn-release',
        `HAProxy ${name} ${detail.version} deadlocks when a frontend's maxconn is raised while a client waits (haproxy#2726, fixed in 2.6.20/3.0.6): the hold is released by disabling the frontend around it, so clients that connected during the pause are reset once and reconnect`,
      ),
    );
  }
  return checks;
}
