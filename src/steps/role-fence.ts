/**
 * The role fence: a planned switchover's fence where the tool has no shell and no superuser (a
 * managed platform). With the routers already holding clients, the application roles lose LOGIN
 * (what they had is journalled first, for the undo), their sessions are terminated and awaited
 * to zero, and the tool's own session writes a marker row; the final position is
 * pg_current_wal_lsn() after that commit. The target must replay past it and see the marker.
 * Unlike a read-only default, no client can undo it from its own session (`SET
 * default_transaction_read_only = off`, `BEGIN READ WRITE`): a role that cannot log in has no
 * session. Roles replicate, so the new primary is released by giving the same roles back there.
 */
import { StepFailedError } from '../errors.js';
import { parseLsn } from '../model/lsn.js';
import {
  CURRENT_LSN_SQL,
  MARKER_INSERT_SQL,
  MARKER_SEEN_SQL,
  MARKER_SETUP_SQL,
  nologinSql,
  restoreRoleSql,
  ROLE_SESSIONS_SQL,
  ROLES_NOW_SQL,
  TERMINATE_ROLES_SQL,
} from '../postgres/role-fence.js';
import { inventoryAppRoles } from '../inventory/model.js';
import type { FenceMode } from './fence-modes.js';
import type { FenceOutput, RecordedRole } from './outputs.js';
import type { NodeSql } from './ports.js';
import { untilSessionsGone } from './sessions-gone.js';
import { sqlText, type Action, type PlanContext, type StepContext } from './types.js';

/** The roles the plan fences, as observed before the run (what the undo gives back). */
export const fencedRolesOf = (plan: Pick<PlanContext, 'primaryObs'>): RecordedRole[] =>
  (plan.primaryObs?.roleFence?.roles ?? []).map(({ name, canLogin, connLimit }) => ({ name, canLogin, connLimit }));

export const ROLE_FENCE: FenceMode = {
  needsHostAccess: false,
  checkText: 'the role fence (application roles NOLOGIN, their sessions terminated; no superuser, no shell)',
  title: (primary) => `${primary}'s application roles NOLOGIN`,
  actions: (plan, stopTimeoutMs) => {
    const roles = fencedRolesOf(plan);
    const names = roles.map((r) => r.name);
    return [
      ...roles.map((role, i): Action<FenceOutput> => ({
        text: `${sqlText(plan.primary.name, nologinSql(role.name))}${i === 0 ? `  (first journalled: ${roles.map((r) => `${r.name} ${r.canLogin ? 'LOGIN' : 'NOLOGIN'} CONNECTION LIMIT ${r.connLimit}`).join(', ')})` : ''}`,
        run: async (ctx, out) => {
          if (!out.roleFence) {
            // Recorded before the first change: a run that dies after it is undone from the journal.
            ctx.record('role-fence', { node: ctx.primary.name, roles });
            out.roleFence = { node: ctx.primary.name, roles };
          }
          await (await ctx.connections.node(ctx.primary.name)).query(nologinSql(role.name));
        },
      })),
      {
        text: sqlText(plan.primary.name, TERMINATE_ROLES_SQL.replace('$1', `'{${names.join(',')}}'`)),
        run: async (ctx) => {
          const { n } = await (
            await ctx.connections.node(ctx.primary.name)
          ).one<{ n: number }>(TERMINATE_ROLES_SQL, [names]);
          return `${names.join(', ')} NOLOGIN on ${ctx.primary.name}, ${n} session(s) terminated`;
        },
      },
      untilSessionsGone(
        plan,
        { sql: ROLE_SESSIONS_SQL, shown: `'{${names.join(',')}}'`, params: () => [names] },
        "the application roles' sessions",
        stopTimeoutMs,
      ),
      ...[...MARKER_SETUP_SQL, MARKER_INSERT_SQL].map((sql): Action<FenceOutput> => ({
        text: sqlText(plan.primary.name, sql.replace('$1', "'<run id>'")),
        run: async (ctx, out) => {
          const session = await ctx.connections.node(ctx.primary.name);
          if (sql !== MARKER_INSERT_SQL) return void (await session.query(sql));
          await session.query(sql, [ctx.runId]);
          out.marker = ctx.runId;
        },
      })),
      {
        text: `${sqlText(plan.primary.name, CURRENT_LSN_SQL)}  (after the marker's commit: the final position)`,
        run: async (ctx, out) => {
          const { lsn } = await (await ctx.connections.node(ctx.primary.name)).one<{ lsn: string }>(CURRENT_LSN_SQL);
          out.finalLsn = parseLsn(lsn);
          out.finalLsnSource = `pg_current_wal_lsn() on ${ctx.primary.name} after the role fence and the marker row of run ${ctx.runId}`;
          return `final position ${lsn}, marker written`;
        },
      },
    ];
  },
  // A running primary still writes some WAL of its own: at or past is enough, with the marker seen.
  caughtUp: (replay, final) => replay >= final,
  catchupText: ">= pg_current_wal_lsn() after the fence, and the tool's marker row visible there",
  rejoins: false,
};

/** Whether `session` (the target) sees this run's marker row: every commit before it is replayed and visible. */
export async function markerSeen(session: NodeSql, marker: string): Promise<boolean> {
  return (await session.one<{ seen: boolean }>(MARKER_SEEN_SQL, [marker])).seen;
}

/** Gives `node` the recorded roles back, exactly (LOGIN or not, CONNECTION LIMIT). */
export async function restoreRoles(ctx: StepContext, node: string, roles: readonly RecordedRole[]): Promise<string> {
  const session = await ctx.connections.node(node);
  for (const role of roles) await session.query(restoreRoleSql(role));
  return `${roles.map((r) => r.name).join(', ')} given back on ${node} as recorded`;
}

/** The dry-run text of giving the roles back on `node`. */
export const restoreRolesText = (node: string, roles: readonly RecordedRole[]): string =>
  roles.map((r) => sqlText(node, restoreRoleSql(r))).join('; ') || `[${node}] no application role to give back`;

export const markerMissing = (target: string, marker: string, replay: string): StepFailedError =>
  new StepFailedError(`${target} replayed ${replay} but does not see the marker row of run ${marker}: not promoting`);

/** How long a failover's old primary gets to answer the role fence's login (a hung one costs the run this much). */
export const ANSWERING_FENCE_MS = 1000;

/**
 * A failover on a managed estate, before the node's fence_command: where the old primary still
 * answers (a hang that ended, a stall the detection took for one), its application roles lose
 * LOGIN and their sessions end, so a client connecting straight to it cannot write while the
 * platform stops it, or if it never does (no fence_command). What they had is journalled first;
 * an undo (no promotion happened) gives it back there, and resume gives it back on the new
 * primary, where the NOLOGIN may have replicated. One that does not answer within
 * ANSWERING_FENCE_MS is left to its fence_command. Never fails the run: it only adds to the fence.
 */
export function answeringRoleFence(plan: PlanContext): Action<FenceOutput> {
  const names = inventoryAppRoles(plan.inventory);
  return {
    text: `${sqlText(plan.primary.name, names.map(nologinSql).join('; ') || '(no application role named)')}; ${sqlText(plan.primary.name, TERMINATE_ROLES_SQL.replace('$1', `'{${names.join(',')}}'`))}  (only if ${plan.primary.name} still answers a login within ${ANSWERING_FENCE_MS} ms; what the roles had is journalled first)`,
    run: async (ctx, out) => {
      const session = names.length ? await ctx.connections.reach(ctx.primary.name, ANSWERING_FENCE_MS) : undefined;
      if (!session) return `${ctx.primary.name} does not answer: no role fence there`;
      try {
        const rows = await session.query<{ name: string; can_login: boolean; conn_limit: number }>(
          ROLES_NOW_SQL,
          [names],
          ANSWERING_FENCE_MS,
        );
        const roles: RecordedRole[] = rows.map((r) => ({
          name: r.name,
          canLogin: r.can_login,
          connLimit: r.conn_limit,
        }));
        // Recorded before the first change: a run that dies after it is undone from the journal.
        ctx.record('role-fence', { node: ctx.primary.name, roles });
        out.roleFence = { node: ctx.primary.name, roles };
        for (const role of roles) await session.query(nologinSql(role.name), [], ANSWERING_FENCE_MS);
        const { n } = await session.one<{ n: number }>(TERMINATE_ROLES_SQL, [names], ANSWERING_FENCE_MS);
        ctx.log.notes.push(
          `${ctx.primary.name} still answered: its application roles (${roles.map((r) => r.name).join(', ')}) are NOLOGIN there, ${n} session(s) terminated`,
        );
        return `${ctx.primary.name} still answered: ${roles.map((r) => r.name).join(', ')} NOLOGIN, ${n} session(s) terminated`;
      } catch (error) {
        ctx.log.notes.push(
          `${ctx.primary.name} answered, but its role fence did not finish (${(error as Error).message}): direct clients may still reach it until its fence_command acts`,
        );
        return `${ctx.primary.name}: role fence not finished`;
      }
    },
  };
}
