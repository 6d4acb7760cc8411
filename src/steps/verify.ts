/**
 * verify — the end state, checked for real: the new primary is writable on a higher timeline,
 * every pooler sends clients to it (through the pooler when an app login is known), the old
 * primary is fenced or a replica, the other replicas stream from the new primary.
 * Retries until its timeout, since replicas take a moment to attach. Undo: none.
 */
import { routerKind } from '../routers/registry.js';
import { sleep } from '../util/time.js';
import { TIMELINE_SQL } from './promote.js';
import { routeTarget } from './repoint-pooler.js';
import { sqlAction, type StepContext, type StepDefinition } from './types.js';

const PRIMARY_SQL = "SELECT pg_is_in_recovery() AS in_recovery, current_setting('default_transaction_read_only') AS ro";
const RECEIVER_SQL = 'SELECT status, sender_host, sender_port FROM pg_stat_wal_receiver';

export const verifyStep: StepDefinition<'verify'> = {
  kind: 'verify',
  title: () => 'verify',
  describe: (_s, plan) => [
    sqlAction(plan.target.name, `${PRIMARY_SQL}; ${TIMELINE_SQL}`),
    ...plan.inventory.poolers.flatMap((p) => routerKind(p.kind).describe.verify(p)),
    `[${[plan.primary.name, ...plan.waitFor].join(', ')}] SQL: ${RECEIVER_SQL}`,
  ],
  async run(step, ctx) {
    const deadline = performance.now() + step.timeout;
    let problems: string[] = [];
    for (;;) {
      problems = await findProblems(ctx);
      if (problems.length === 0 || performance.now() > deadline) break;
      await sleep(100);
    }
    if (problems.length) {
      ctx.facts.leftToDo.push(...problems.map((p) => `check: ${p}`));
      throw new Error(`verification failed: ${problems.join('; ')}`);
    }
    return `${ctx.target.name} writable on timeline ${ctx.facts.newTimeline}; clients reach it through ${ctx.inventory.poolers.map((p) => p.name).join(', ')}`;
  },
};

async function findProblems(ctx: StepContext): Promise<string[]> {
  const problems: string[] = [];
  const primary = await ctx.connections.node(ctx.target.name);
  const state = await primary.one<{ in_recovery: boolean; ro: string }>(PRIMARY_SQL);
  if (state.in_recovery) problems.push(`${ctx.target.name} is still in recovery`);
  if (state.ro === 'on') problems.push(`${ctx.target.name} has default_transaction_read_only on`);
  const { tli } = await primary.one<{ tli: number }>(TIMELINE_SQL);
  if (ctx.facts.oldTimeline !== undefined && tli <= ctx.facts.oldTimeline) problems.push(`timeline ${tli} did not advance past ${ctx.facts.oldTimeline}`);
  for (const spec of ctx.inventory.poolers) {
    problems.push(...(await ctx.connections.router(spec.name).verify(routeTarget(ctx.target), ctx.applicationName)));
  }
  problems.push(...(await oldPrimaryProblems(ctx)));
  const waited = ctx.siblings.filter((s) => ctx.waitFor.includes(s.name));
  const followers = ctx.facts.oldPrimaryRole?.startsWith('replica') ? [ctx.primary, ...waited] : waited;
  for (const node of followers) problems.push(...(await followerProblems(ctx, node.name)));
  return problems;
}

async function followerProblems(ctx: StepContext, name: string): Promise<string[]> {
  const session = await ctx.connections.node(name).catch(() => undefined);
  if (!session) return [`${name} is unreachable`];
  const row = (await session.query<{ status: string; sender_host: string; sender_port: number }>(RECEIVER_SQL).catch(() => []))[0];
  if (row?.status === 'streaming' && row.sender_host === ctx.target.conn.host && Number(row.sender_port) === ctx.target.conn.port) return [];
  return [`${name} is not streaming from ${ctx.target.name} (${row ? `${row.status} from ${row.sender_host}:${row.sender_port}` : 'no WAL receiver'})`];
}

async function oldPrimaryProblems(ctx: StepContext): Promise<string[]> {
  const problems: string[] = [];
  const session = await ctx.connections.node(ctx.primary.name).catch(() => undefined);
  if (ctx.fenceMethod === 'read-only') {
    const row = await session?.one<{ in_recovery: boolean; ro: string }>(PRIMARY_SQL).catch(() => undefined);
    if (row && !row.in_recovery && row.ro !== 'on') problems.push(`${ctx.primary.name} is writable again: two primaries`);
  } else if (session) {
    const row = await session.one<{ in_recovery: boolean }>(PRIMARY_SQL);
    if (!row.in_recovery) problems.push(`${ctx.primary.name} is running as a primary: two primaries`);
  }
  return problems;
}
