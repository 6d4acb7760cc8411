/**
 * A managed estate's decisions (docs/managed.md), from what the servers said about themselves
 * (nothing is changed to find out). A role fence needs roles to fence, none of them the tool's
 * own or a superuser, each one the tool's role may ALTER, pg_signal_backend to end their
 * sessions, and the marker. Preflight's privileges and host access read differently there, and
 * a platform's own switchover refuses a pooler that would drop clients before it ends.
 */
import type { NodeObservation } from '../model/node.js';
import { fail, pass, warn, type Check } from './checks.js';

export function roleFenceChecks(primary: NodeObservation): Check[] {
  const view = primary.roleFence;
  if (!view) return [fail('role-fence', `${primary.name}'s application roles were not observed`)];
  const names = view.roles.map((r) => r.name);
  const problems: string[] = [];
  if (!names.length)
    problems.push(
      view.declared
        ? "none of the inventory's app_roles exists"
        : "no application role found (the poolers' logins, the roles with sessions now): name them in the inventory's app_roles",
    );
  if (names.includes(view.tool))
    problems.push(`the tool's own role ${view.tool} is one of them: it would fence itself`);
  const superusers = view.roles.filter((r) => r.superuser).map((r) => r.name);
  if (superusers.length)
    problems.push(
      `${superusers.join(', ')} ${superusers.length > 1 ? 'are superusers' : 'is a superuser'}: a role fence cannot stop a superuser`,
    );
  const locked = view.roles.filter((r) => !r.alterable && !r.superuser).map((r) => r.name);
  if (locked.length)
    problems.push(
      `${view.tool} may not ALTER ROLE ${locked.join(', ')} (needs CREATEROLE; from PostgreSQL 16 also ADMIN OPTION on each)`,
    );
  if (!view.signalBackend) problems.push(`${view.tool} lacks pg_signal_backend (to end the roles' sessions)`);
  if (!view.markerWritable)
    problems.push(
      `${view.tool} cannot write the catch-up marker (needs CREATE on the database, or INSERT and SELECT on pghandover.marker)`,
    );
  if (problems.length) return [fail('role-fence', `role fence on ${primary.name}: ${problems.join('; ')}`)];
  return [
    pass(
      'role-fence',
      `role fence on ${primary.name}: ${view.roles.map((r) => `${r.name} (${r.sessions} session(s))`).join(', ')} ${view.declared ? "(the inventory's app_roles)" : "(found: the poolers' logins and the roles with sessions)"}; ${view.tool} may alter them, holds pg_signal_backend and can write the marker`,
    ),
  ];
}

/** A managed estate's privileges: no superuser and no ALTER SYSTEM, only what the role fence and the reads need. */
export function managedPrivilegesCheck(primary: NodeObservation, target: NodeObservation): Check {
  const lacking = [primary, target].filter((n) => !n.isSuperuser && n.roleFence?.monitor === false);
  return lacking.length
    ? fail(
        'privileges',
        `${lacking.map((n) => n.name).join(', ')}: the tool's role lacks pg_monitor (to read replication and settings)`,
      )
    : pass(
        'privileges',
        "a managed estate: no superuser, no shell; the role fence, the marker and the platform's promote hook need only what preflight checked",
      );
}

/**
 * Preflight on a managed estate (the target is promoted by its platform's hook): its privileges
 * are the role fence's, no host access is needed by design, and the other replicas cannot follow.
 */
export function forManagedEstate(check: Check, primary: NodeObservation, target: NodeObservation): Check {
  if (check.id === 'privileges') return managedPrivilegesCheck(primary, target);
  if (check.id === 'host-access')
    return pass('host-access', 'a managed estate: no host access needed (the role fence, the promote hook)');
  if (check.id === 'other-replicas' && check.verdict === 'pass')
    return warn(
      'other-replicas',
      `${check.message.split(' ')[0]} cannot follow ${target.name} on a managed platform: it stays a replica of ${primary.name} (fenced) until its rebuild`,
    );
  return check;
}

/**
 * The platform's own switchover can take all of its budget: a pooler that would drop waiting
 * clients sooner (its query_wait_timeout) is refused, not warned about.
 */
export const forPlatformSwitchover = (checks: readonly Check[]): Check[] =>
  checks.map((c) =>
    c.id === 'pooler-query-wait-timeout' && c.verdict === 'warn'
      ? fail(c.id, `${c.message}; the platform's switchover can take that long: refused`)
      : c,
  );
