/**
 * follow — the other replicas stream from the new primary, each in parallel (upstream.ts), and
 * the run waits for those it decided to wait for. Precondition: promoted. Output: each
 * replica's state. Undo: none.
 */
import { conninfoTowards } from '../postgres/conninfo.js';
import { duration, stepParams } from '../playbook/fields.js';
import { hookWords, peerAddress, type NodeSpec } from '../inventory/model.js';
import { followActions, waitStreaming, waitStreamingText } from './upstream.js';
import { hookText, rebuildNode } from './platform-hook.js';
import { z } from 'zod';
import { formatLsn, parseLsn } from '../model/lsn.js';
import { formatMs } from '../util/time.js';
import {
  performGroups,
  sqlText,
  type Action,
  type OutputOf,
  type PlanContext,
  type StepContext,
  type StepDefinition,
} from './types.js';

const schema = stepParams('follow', {
  timeout: duration('30s'),
  /** A managed estate: run each replica's `rebuild` hook (its platform re-creates it from the new primary). */
  rebuild: z.boolean({ error: 'expected true or false' }).default(false),
});
type Out = OutputOf<typeof schema>;

export const followStep: StepDefinition<typeof schema> = {
  schema,
  title: (_s, plan) =>
    `repoint ${plan.siblings.map((s) => s.name).join(', ') || 'no other replicas'} to ${plan.target.name}`,
  actions: (step, plan) =>
    plan.siblings.flatMap((sibling) =>
      plan.managed ? [cannotFollow(plan, sibling, step)] : siblingActions(plan, sibling, step.timeout),
    ),
  async run(step, ctx, out, actions) {
    if (ctx.managed) {
      const said: string[] = [];
      for (const action of actions) {
        const line = await action.run?.(ctx, out);
        if (line) said.push(line);
      }
      const left = ctx.siblings.map((s) => s.name).filter((n) => !out.followers[n]?.startsWith('rebuilt'));
      if (left.length) said.push(`${left.join(', ')} left to rebuild (a managed platform's replicas cannot follow)`);
      return said.join('; ') || 'no other replicas';
    }
    const results = await performGroups(actions, ctx, out);
    const failed = [...results].flatMap(([name, r]) =>
      r.status === 'rejected' ? [`${name}: ${(r.reason as Error).message}`] : [],
    );
    for (const name of ctx.unreachable) {
      // A rolling restart's goal is every server on the new binaries: one left behind is degraded.
      if (ctx.rolling) {
        ctx.log.degraded.push(name);
        ctx.log.leftToDo.push(
          `${name} was down: it still runs the old binaries; once it is back, run \`pg-handover rolling-restart\` again (it restarts it and points it at ${ctx.target.name}, its slot included; no second switchover)`,
        );
      } else {
        ctx.log.leftToDo.push(
          `${name} was unreachable: once it is back, \`pg-handover rejoin ${name}\` makes it stream from ${ctx.target.name} (its slot there included)`,
        );
      }
    }
    // Stragglers are reported, not waited for past the window: the primary has moved; the run ends "degraded", not failed.
    for (const [name, r] of results) {
      if (r.status !== 'rejected') continue;
      ctx.log.degraded.push(name);
      out.followers[name] =
        `did not follow ${ctx.target.name} within ${formatMs(step.timeout)}: to check (${(r.reason as Error).message})`;
      ctx.log.leftToDo.push(
        `make ${name} stream from ${ctx.target.name}: point its primary_conninfo there (or \`pg-handover rejoin ${name}\`): ${(r.reason as Error).message}`,
      );
    }
    const waited = ctx.siblings.filter((s) => ctx.waitFor.includes(s.name)).map((s) => s.name);
    const unwaited = ctx.toCheck.map((c) => c.name);
    const streaming = waited.filter((name) => !failed.some((f) => f.startsWith(`${name}:`)));
    return (
      [
        streaming.length ? `${streaming.join(', ')} streaming from ${ctx.target.name}` : '',
        failed.length ? `${failed.map((f) => f.split(':')[0]).join(', ')} did not follow in time (to check)` : '',
        unwaited.length ? `${unwaited.join(', ')} repointed, not waited for (to check)` : '',
      ]
        .filter(Boolean)
        .join('; ') || 'no other replicas'
    );
  },
};

function siblingActions(plan: PlanContext, sibling: NodeSpec, timeoutMs: number): Action<Out>[] {
  const obs = plan.state.nodes.find((n) => n.name === sibling.name);
  if (!obs?.reachable)
    return [
      {
        group: sibling.name,
        text: `[${sibling.name}] unreachable when planned`,
        run: () => Promise.reject(new Error('was unreachable at the start of the run')),
      },
    ];
  const { settings } = obs;
  const skipped = plan.toCheck.find((c) => c.name === sibling.name);
  const ahead = (out: Out) => out.followers[sibling.name]?.includes('rejoin') === true;
  const unlessAhead = (action: Action<Out>): Action<Out> => ({
    ...action,
    run: action.run && (async (ctx, out) => (ahead(out) ? undefined : action.run!(ctx, out))),
  });
  return [
    // After a failover a replica may have received more of the old timeline than the new primary: it cannot follow.
    ...(plan.incident ? [aheadCheck(plan, sibling)] : []),
    ...[
      ...followActions<Out>(
        plan,
        sibling,
        conninfoTowards(settings.primary_conninfo ?? '', peerAddress(plan.target)),
        settings.primary_slot_name ?? '',
      ),
      skipped
        ? {
            group: sibling.name,
            text: `[${sibling.name}] not waited for: ${skipped.reason}; reported as "to check"`,
            run: async (ctx: StepContext, out: Out) => {
              out.followers[sibling.name] =
                `repointed to ${ctx.target.name}, not waited for (${skipped.reason}): to check`;
            },
          }
        : {
            group: sibling.name,
            text: waitStreamingText(plan, sibling),
            run: async (ctx: StepContext, out: Out) => {
              await waitStreaming(ctx, sibling, timeoutMs);
              out.followers[sibling.name] = `streaming from ${ctx.target.name}`;
            },
          },
    ].map((a: Action<Out>) => unlessAhead(a)),
  ];
}

const RECEIVED_SQL = 'SELECT pg_last_wal_receive_lsn()::text AS lsn';

function aheadCheck(plan: PlanContext, sibling: NodeSpec): Action<Out> {
  return {
    group: sibling.name,
    text: `${sqlText(sibling.name, RECEIVED_SQL)}  (past what ${plan.target.name} received? then it is left alone and reported: it needs \`pg-handover rejoin ${sibling.name}\`)`,
    run: async (ctx, out) => {
      const received = parseLsn(
        (await (await ctx.connections.node(sibling.name)).one<{ lsn: string | null }>(RECEIVED_SQL)).lsn,
      );
      const switchPoint = ctx.outputs['fence-writes'].finalLsn;
      if (received === undefined || switchPoint === undefined || received <= switchPoint) return;
      out.followers[sibling.name] =
        `ahead of ${ctx.target.name} on the old timeline (${formatLsn(received)} > ${formatLsn(switchPoint)}): needs rejoin`;
      ctx.log.leftToDo.push(
        `${sibling.name} received WAL past ${ctx.target.name}'s switch point (${formatLsn(received)} > ${formatLsn(switchPoint)}); it cannot follow: run \`pg-handover rejoin ${sibling.name}\``,
      );
    },
  };
}

/**
 * A managed platform's replica follows the instance it was made from: the tool cannot repoint it
 * (no shell, no ALTER SYSTEM). It is left for the inventory's rebuild command, and said so.
 */
function cannotFollow(plan: PlanContext, sibling: NodeSpec, step: { timeout: number; rebuild: boolean }): Action<Out> {
  const rebuild = sibling.rebuild ? hookWords(sibling, sibling.rebuild.command).join(' ') : undefined;
  if (step.rebuild && sibling.rebuild)
    return {
      group: sibling.name,
      text: `${hookText(sibling, 'rebuild', sibling.rebuild.command, step.timeout)}, then until it streams from ${plan.target.name}`,
      run: async (ctx: StepContext, out: Out) => {
        const said = await rebuildNode(ctx, sibling, step.timeout);
        out.followers[sibling.name] = `rebuilt, streaming from ${ctx.target.name}`;
        return said;
      },
    };
  return {
    group: sibling.name,
    text: `[${sibling.name}] none: a managed replica cannot be repointed to ${plan.target.name}; ${rebuild ? `its rebuild: ${rebuild}` : 'rebuild it from the new primary'}`,
    run: async (ctx: StepContext, out: Out) => {
      // After the platform's own switchover the old primary is the new one's replica: this one cascades through it.
      const upstream =
        ctx.fenceMethod === 'platform'
          ? `${ctx.primary.name}, now ${ctx.target.name}'s replica (it cascades)`
          : `${ctx.primary.name}, whose application roles stay NOLOGIN`;
      out.followers[sibling.name] = `still replicates from ${ctx.primary.name}: to rebuild`;
      ctx.log.leftToDo.push(
        `${sibling.name} still replicates from ${upstream}: rebuild it as a replica of ${ctx.target.name}${rebuild ? ` (\`${rebuild}\`)` : " (the platform's create-replica command; no rebuild in the inventory)"}`,
      );
    },
  };
}
