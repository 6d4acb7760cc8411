/**
 * verify — the end state, checked for real: the new primary is writable on a higher timeline,
 * every router sends clients to it (through it, when an app login is known), the old primary is
 * fenced or a replica as its fence mode says, the other replicas stream from the new primary.
 * Retries until its timeout, since replicas take a moment to attach. Undo: none.
 */
import { inventoryAppRoles, peerAddress, type NodeSpec } from '../inventory/model.js';
import { duration, stepParams } from '../playbook/fields.js';
import { RECEIVER_SQL, ROLE_SQL, TIMELINE_SQL, type ReceiverRow } from '../postgres/sql.js';
import { WRITABILITY_TEXT, writabilityOn } from '../postgres/writability-question.js';
import { routerKind } from '../routers/registry.js';
import { sleep } from '../util/time.js';
import { versionText } from '../model/node.js';
import { FENCE_MODES } from './fence-modes.js';
import { oldTimelineOf } from './outputs.js';
import { routeTarget } from './routing.js';
import { sqlText, type Action, type PlanContext, type StepContext, type StepDefinition } from './types.js';

const schema = stepParams('verify', { timeout: duration('15s') });
/** Each round collects the problems its actions find. */
interface Round {
  problems: string[];
}

export const verifyStep: StepDefinition<typeof schema, Round> = {
  schema,
  title: () => 'verify',
  actions: (_s, plan) => [
    {
      text: sqlText(plan.target.name, `${ROLE_SQL}; ${TIMELINE_SQL}`),
      run: async (ctx, round) => {
        const session = await ctx.connections.node(ctx.target.name);
        const state = await session.one<{ in_recovery: boolean; ro: string }>(ROLE_SQL);
        if (state.in_recovery) round.problems.push(`${ctx.target.name} is still in recovery`);
        if (state.ro === 'on') round.problems.push(`${ctx.target.name} has default_transaction_read_only on`);
        const { tli } = await session.one<{ tli: number }>(TIMELINE_SQL);
        const old = oldTimelineOf(ctx.outputs);
        if (old !== undefined && tli <= old) round.problems.push(`timeline ${tli} did not advance past ${old}`);
      },
    },
    ...plan.inventory.poolers.map((spec): Action<Round> => ({
      text: routerKind(spec.kind).describe.verify(spec).join('\n'),
      run: async (ctx, round) => {
        round.problems.push(
          ...(await ctx.connections
            .router(spec.name)
            .verify(routeTarget(ctx.primary, ctx), routeTarget(ctx.target, ctx), ctx.applicationName)),
        );
      },
    })),
    ...(FENCE_MODES[plan.fenceMethod].oldPrimaryProblem
      ? [
          {
            text: sqlText(
              plan.primary.name,
              `${WRITABILITY_TEXT}  (${plan.fenceMethod}: ${FENCE_MODES[plan.fenceMethod].rejoins ? 'a replica, or down' : 'not writable, or down'})`,
            ),
            run: async (ctx: StepContext, round: Round) => {
              const session = await ctx.connections.node(ctx.primary.name).catch(() => undefined);
              // The question `check` asks: a primary whose application roles are all NOLOGIN (a
              // managed failover's old primary that still answered its role fence) is fenced.
              const seen = session
                ? await writabilityOn(session, inventoryAppRoles(ctx.inventory)).catch(() => undefined)
                : undefined;
              const problem = seen && FENCE_MODES[ctx.fenceMethod].oldPrimaryProblem?.(seen, ctx.primary.name);
              if (problem) round.problems.push(problem);
            },
          },
        ]
      : []),
    // A rolling restart: every server on the new version, the old primary included.
    ...(plan.rolling
      ? [
          {
            text: `[every node] SQL: SELECT current_setting('server_version_num')  (${plan.rolling.versionNum} on each)`,
            run: async (ctx: StepContext, round: Round) => {
              for (const node of ctx.inventory.nodes.filter((n) => !ctx.unreachable.includes(n.name))) {
                const session = await ctx.connections.node(node.name).catch(() => undefined);
                const row = await session
                  ?.one<{ v: number }>("SELECT current_setting('server_version_num')::int AS v")
                  .catch(() => undefined);
                if (row && Number(row.v) !== ctx.rolling!.versionNum)
                  round.problems.push(
                    `${node.name} runs ${versionText(Number(row.v))}, not ${versionText(ctx.rolling!.versionNum)}`,
                  );
              }
            },
          },
        ]
      : []),
    ...followersOf(plan).map((node): Action<Round> => ({
      text: `${sqlText(node.name, RECEIVER_SQL)}  (streaming from ${plan.target.name})`,
      run: async (ctx, round) => {
        if (node.name === ctx.primary.name && !ctx.outputs['demote-old-primary'].role?.startsWith('replica')) return;
        if (ctx.outputs.follow.followers[node.name]?.includes('rejoin')) return; // reported by follow: it needs rejoin
        if (ctx.log.degraded.includes(node.name)) return; // reported by follow: it did not follow in time
        round.problems.push(...(await followerProblems(ctx, node.name)));
      },
    })),
  ],
  async run(step, ctx, _out, actions) {
    const deadline = performance.now() + step.timeout;
    let round: Round;
    for (;;) {
      round = { problems: [] };
      for (const action of actions) await action.run?.(ctx, round);
      if (round.problems.length === 0 || performance.now() > deadline) break;
      await sleep(100);
    }
    if (round.problems.length) {
      ctx.log.leftToDo.push(...round.problems.map((p) => `check: ${p}`));
      throw new Error(`verification failed: ${round.problems.join('; ')}`);
    }
    return `${ctx.target.name} writable on timeline ${ctx.outputs.resume.newTimeline}; clients reach it through ${ctx.inventory.poolers.map((p) => p.name).join(', ')}`;
  },
};

/** The old primary (when it rejoined) and the replicas the run waited for. */
function followersOf(plan: PlanContext): NodeSpec[] {
  // A managed platform's replicas cannot follow the new primary: nobody is expected to stream from it.
  if (plan.managed) return [];
  const waited = plan.siblings.filter((s) => plan.waitFor.includes(s.name));
  return FENCE_MODES[plan.fenceMethod].rejoins && plan.primary.name !== plan.target.name
    ? [plan.primary, ...waited]
    : waited;
}

async function followerProblems(ctx: StepContext, name: string): Promise<string[]> {
  const session = await ctx.connections.node(name).catch(() => undefined);
  if (!session) return [`${name} is unreachable`];
  const row = (await session.query<ReceiverRow>(RECEIVER_SQL).catch(() => []))[0];
  const upstream = peerAddress(ctx.target);
  if (row?.status === 'streaming' && row.sender_host === upstream.host && Number(row.sender_port) === upstream.port)
    return [];
  return [
    `${name} is not streaming from ${ctx.target.name} (${row ? `${row.status} from ${row.sender_host}:${row.sender_port}` : 'no WAL receiver'})`,
  ];
}
