/**
 * sync-standbys — the old primary's synchronous_standby_names, restored on the new primary with
 * the names translated to the new topology (the new primary's own name becomes the old
 * primary's, which now streams from it). Promotion cleared it inside the pause, since commits
 * would wait for standbys not yet attached; it is set again only once enough of the listed
 * standbys stream from the new primary, so commits never hang. Precondition: follow and
 * demote-old-primary ran. Undo: none.
 */
import { StepFailedError } from '../errors.js';
import { standbyNameOf } from '../decide/lag.js';
import { syncRequirement, translateSyncNames } from '../decide/sync.js';
import { parseConninfo } from '../inventory/dsn.js';
import { syncNamesFromConfigFile, type NodeObservation } from '../model/node.js';
import { duration, stepParams } from '../playbook/fields.js';
import { quoteLiteral, RELOAD_SQL } from '../postgres/sql.js';
import { pollNode } from './poll.js';
import { performInOrder, sqlText, type Action, type PlanContext, type StepDefinition } from './types.js';

const schema = stepParams('sync-standbys', { timeout: duration('30s') });
const STREAMING_SQL = `SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'`;
const SYNC_STATE_SQL = `SELECT count(*)::int AS n FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')`;

export const syncStandbysStep: StepDefinition<typeof schema> = {
  schema,
  title: (_s, plan) => `synchronous standbys on ${plan.target.name}`,
  actions(step, plan) {
    const wanted = translated(plan);
    if (!wanted)
      return [
        {
          text: `none: ${plan.primary.name} had no synchronous_standby_names`,
          run: async () => 'no synchronous standbys to restore',
        },
      ];
    const { count, names } = syncRequirement(wanted.value);
    // The operator's own config (postgresql.conf) is given back by a RESET, not overridden for good.
    const setSql = wanted.reset
      ? 'ALTER SYSTEM RESET synchronous_standby_names'
      : `ALTER SYSTEM SET synchronous_standby_names = ${quoteLiteral(wanted.value)}`;
    const actions: Action[] = [
      {
        text: `${sqlText(plan.target.name, STREAMING_SQL)}  (until ${count} of ${names === '*' ? 'any standby' : names.join(', ')} stream${count === 1 ? 's' : ''}, up to ${step.timeout} ms)`,
        run: async (ctx) => {
          await pollNode(ctx, {
            node: ctx.target.name,
            timeoutMs: step.timeout,
            intervalMs: 50,
            what: `${count} synchronous standby(s) streaming from ${ctx.target.name}`,
            probe: async (s) =>
              (await s.query<{ application_name: string }>(STREAMING_SQL)).map((r) => r.application_name),
            done: (streaming) =>
              streaming.filter((n) => names === '*' || names.some((w) => w.toLowerCase() === n.toLowerCase())).length >=
              count,
            describe: (streaming) => `streaming: ${streaming?.join(', ') || 'none'}`,
          }).catch((error: Error) => {
            ctx.log.leftToDo.push(
              `synchronous_standby_names is still empty on ${ctx.target.name} (commits do not wait for a standby): once ${count} of ${names === '*' ? 'its standbys' : names.join(', ')} stream from it, run: ${setSql}; SELECT pg_reload_conf()`,
            );
            // The primary serves: synchronous replication left off is degraded, not a failure.
            ctx.log.degraded.push(`${ctx.target.name} (synchronous replication)`);
            throw new SyncNotRestored(`not restoring synchronous replication: ${error.message}`);
          });
        },
      },
      {
        text: sqlText(plan.target.name, setSql),
        run: async (ctx) => void (await (await ctx.connections.node(ctx.target.name)).query(setSql)),
      },
      {
        text: sqlText(plan.target.name, RELOAD_SQL),
        run: async (ctx) => void (await (await ctx.connections.node(ctx.target.name)).query(RELOAD_SQL)),
      },
      {
        text: `${sqlText(plan.target.name, SYNC_STATE_SQL)}  (at least ${count})`,
        run: async (ctx) => {
          await pollNode(ctx, {
            node: ctx.target.name,
            timeoutMs: step.timeout,
            intervalMs: 20,
            what: `synchronous standbys on ${ctx.target.name}`,
            probe: async (s) => (await s.one<{ n: number }>(SYNC_STATE_SQL)).n,
            done: (n) => n >= count,
          });
          ctx.log.notes.push(
            `synchronous_standby_names on ${ctx.target.name} set to '${wanted.value}' (was '${wanted.was}' on ${ctx.primary.name})`,
          );
          return `synchronous_standby_names = '${wanted.value}' on ${ctx.target.name}`;
        },
      },
    ];
    return actions;
  },
  async run(_step, ctx, out, actions) {
    try {
      return await performInOrder(actions, ctx, out);
    } catch (error) {
      if (error instanceof SyncNotRestored) return error.message;
      throw error;
    }
  },
};

class SyncNotRestored extends StepFailedError {}

/**
 * The old primary's setting, with the target's standby name replaced by the old primary's. A
 * failover (the old primary gone): the target's own setting, which promotion cleared with ALTER
 * SYSTEM; given back by a RESET when it came from the operator's config file and needs no
 * translation.
 */
function translated(plan: PlanContext): { value: string; was: string; reset?: boolean } | undefined {
  // Finishing a half-done run: the new primary as observed now (its standby settings are still in its config).
  const target =
    plan.targetObs ?? plan.state.nodes.find((n): n is NodeObservation => n.name === plan.target.name && n.reachable);
  const own = target?.settings.synchronous_standby_names ?? '';
  const was = plan.primaryObs?.settings.synchronous_standby_names ?? (plan.incident ? own : '');
  if (!was || !target) return undefined;
  if (!plan.primaryObs) {
    // A failover: the target's own value, untranslated (its own name never streams to it, and the
    // wait below sets nothing until enough of the others do).
    return { value: own, was: own, reset: syncNamesFromConfigFile(target) };
  }
  // The same value in the target's own config file (one config for every node): given back as it is.
  if (syncNamesFromConfigFile(target) && own === was) return { value: own, was, reset: true };
  const targetName = standbyNameOf(target.settings);
  // The old primary rejoins with the template conninfo; with an application_name there, it is its node name.
  const oldName = parseConninfo(plan.replication.conninfo || '').application_name
    ? plan.primary.name
    : standbyNameOf(plan.primaryObs.settings, '');
  return { value: translateSyncNames(was, targetName, oldName), was };
}
