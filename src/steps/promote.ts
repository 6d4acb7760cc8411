/**
 * promote — the point of no return. Checks once more that the target has replayed the final
 * position, then requests promotion and waits for its end in one statement the server runs
 * (postgres/sql.ts, promoteAndWaitSql: one round trip, where polling from here costs one per look;
 * pg_promote(true) looks only every 100 ms). Where the server cannot run it, the tool requests and
 * polls itself. A timeout is reported, never retried blindly: the promotion may still complete
 * later. Then, inside the pause, only what would make writes fail or hang on the new primary:
 * unattached synchronous standbys, a read-only default (both known from the snapshot). Output:
 * the replay position when promoted. Undo: none, by design.
 */
import type { z } from 'zod';
import { PromotionNotStartedError, StepFailedError, TimeoutError } from '../errors.js';
import { describeFailure } from '../shell/exec.js';
import { hookText, runHook } from './platform-hook.js';
import { formatLsn, parseLsn } from '../model/lsn.js';
import { duration, stepParams } from '../playbook/fields.js';
import { NodeQueryError } from '../postgres/errors.js';
import {
  IN_RECOVERY_SQL,
  PROMOTE_SQL,
  PROMOTION_TIMEOUT_CODE,
  promoteAndWaitSql,
  RELOAD_SQL,
  REPLAY_SQL,
  RESET_READ_ONLY_SQL,
} from '../postgres/sql.js';
import { pollNode } from './poll.js';
import {
  sqlText,
  type Action,
  type OutputOf,
  type PlanContext,
  type StepContext,
  type StepDefinition,
} from './types.js';

const schema = stepParams('promote', { timeout: duration('30s'), poll_interval: duration('2ms') });
type Out = OutputOf<typeof schema>;
/**
 * A request still unanswered this long is made again. The target's log shows why it happens:
 * "received promote request", then "waiting for WAL to become available", and the startup
 * process sleeps (wal_retrieve_retry_interval, 5 s by default) on a wake-up it has already used.
 * A second request wakes it. A normal promotion answers in 15-25 ms here; a request that comes
 * during one is harmless: it leaves a promote file that only a server in recovery acts on, and
 * the postmaster removes it when it next starts (a base backup's copy too, PostgreSQL's own
 * comment in PostmasterMain says). At 100 ms, about one switchover in three waited those 100 ms
 * inside the pause; at 30 ms, one in ten waited 30 ms (a 52 ms promotion instead of 18-26);
 * asked on the server, a request costs no round trip, so it is made again every 5 ms.
 */
const RENUDGE_MS = 5;

export const promoteStep: StepDefinition<typeof schema> = {
  schema,
  pointOfNoReturn: true,
  pauseBudget: (s) => s.timeout,
  title: (_s, plan) => `promote ${plan.target.name}`,
  actions: (step, plan) => [
    ...(plan.fenceMethod === 'platform' ? [] : [replayCheck(plan)]),
    ...(plan.fenceMethod === 'platform'
      ? promoteByHook(step, plan, 'switchover', plan.target.switchover ?? { command: ['false'] })
      : plan.target.promote
        ? promoteByHook(step, plan, 'promote', plan.target.promote)
        : promoteBySql(step, plan)),
    ...unblockWrites(plan),
  ],
};

/** The new primary's replay position read once more, against the final position wait-catchup accepted. */
function replayCheck(plan: PlanContext): Action<Out> {
  return {
    text: `${sqlText(plan.target.name, REPLAY_SQL)}  (must still be at or past the final position)`,
    run: async (ctx, out) => {
      const replay = parseLsn(
        (await (await ctx.connections.node(ctx.target.name)).one<{ lsn: string }>(REPLAY_SQL)).lsn,
      );
      // What wait-catchup accepted: past the final position, or (a failover) every complete record received.
      const final = ctx.outputs['wait-catchup'].targetReplayLsn ?? ctx.outputs['fence-writes'].finalLsn;
      if (final === undefined || replay === undefined || replay < final) {
        throw new StepFailedError(
          `${ctx.target.name} is at ${formatLsn(replay)}, behind the final position ${formatLsn(final)}: not promoting`,
        );
      }
      out.targetReplayLsn = replay;
      out.oldTimeline = ctx.outputs['fence-writes'].oldTimeline ?? ctx.primaryObs?.timeline;
    },
  };
}

/**
 * A platform promotes the target (no shell, no superuser): its hook is called only now, after the
 * catch-up proof (wait-catchup, and the replay check above). If the hook fails or its promotion
 * does not complete in time while the target still answers as a replica, promotion never started:
 * the point of no return is withdrawn and the run rolls back (the platform may still finish an
 * operation it accepted; the report says so). A target that does not answer is left in doubt.
 */
function promoteByHook(
  step: z.output<typeof schema>,
  plan: PlanContext,
  name: 'promote' | 'switchover',
  hook: { readonly command: readonly string[]; readonly wait?: readonly string[] },
): Action<Out>[] {
  const started = { at: 0 };
  const left = () => Math.max(1, step.timeout - (performance.now() - started.at));
  return [
    {
      text: hookText(plan.target, name, hook.command, step.timeout),
      noReturn: (ctx, out) => ({
        target: ctx.target.name,
        replayLsn: formatLsn(out.targetReplayLsn),
        oldTimeline: out.oldTimeline,
        hook: name,
      }),
      run: async (ctx) => {
        started.at = performance.now();
        const result = await runHook(ctx, ctx.target, name, hook.command, step.timeout);
        if (!result.ok) await notStarted(ctx, describeFailure(`the ${name} hook of ${ctx.target.name}`, result));
        return `${name} hook of ${ctx.target.name} exited 0 in ${Math.round(result.durationMs)} ms`;
      },
    },
    ...(hook.wait
      ? [
          {
            text: hookText(plan.target, 'promote wait', hook.wait, step.timeout),
            run: async (ctx: StepContext) => {
              const result = await runHook(ctx, ctx.target, 'promote wait', hook.wait!, left());
              if (!result.ok)
                await notStarted(ctx, describeFailure(`the promote wait hook of ${ctx.target.name}`, result));
            },
          },
        ]
      : []),
    {
      text: `${sqlText(plan.target.name, IN_RECOVERY_SQL)}  (every ${HOOK_POLL_MS} ms, until false, within the ${step.timeout} ms of the promote step)`,
      run: async (ctx) => {
        await pollNode(ctx, {
          node: ctx.target.name,
          timeoutMs: left(),
          intervalMs: HOOK_POLL_MS,
          what: `promotion of ${ctx.target.name} by its platform`,
          probe: async (s) => (await s.one<{ in_recovery: boolean }>(IN_RECOVERY_SQL)).in_recovery,
          done: (inRecovery) => !inRecovery,
        }).catch((error: Error) => notStarted(ctx, error.message));
        ctx.noReturn.confirmed = true;
        return `${ctx.target.name} promoted by its platform in ${Math.round(performance.now() - started.at)} ms`;
      },
    },
  ];
}

const HOOK_POLL_MS = 20;

/** After a failed hook: a target still in recovery was not promoted (roll back); one that is out of it was. */
async function notStarted(ctx: StepContext, why: string): Promise<void> {
  const seen = await ctx.connections
    .askWritable(ctx.target.name, { attempts: 1, connectTimeoutMs: 2000, queryTimeoutMs: 2000 })
    .catch(() => undefined);
  if (seen?.inRecovery === true) {
    ctx.log.notes.push(
      `${why}; ${ctx.target.name} is still a replica, so the run rolls back. A platform that accepted the request may still complete it later: check ${ctx.target.name} before running again`,
    );
    throw new PromotionNotStartedError(`${why}; ${ctx.target.name} is still a replica: not promoted`);
  }
  if (seen && !seen.inRecovery) {
    ctx.log.notes.push(`${why}, but ${ctx.target.name} answers as a primary: promoted`);
    return;
  }
  throw new StepFailedError(`${why}; ${ctx.target.name} does not answer: its promotion is in doubt`);
}

function promoteBySql(step: z.output<typeof schema>, plan: PlanContext): Action<Out>[] {
  return [
    {
      text: `${sqlText(plan.target.name, PROMOTE_SQL)}  (in a DO block that waits on the server for the end of recovery: looks every 1 ms, asks again every ${RENUDGE_MS} ms, up to ${step.timeout} ms)`,
      noReturn: (ctx, out) => ({
        target: ctx.target.name,
        replayLsn: formatLsn(out.targetReplayLsn),
        oldTimeline: out.oldTimeline,
      }),
      run: async (ctx) => {
        const started = performance.now();
        const session = await ctx.connections.node(ctx.target.name);
        try {
          await session.query(promoteAndWaitSql(step.timeout, RENUDGE_MS), [], step.timeout + ANSWER_MARGIN_MS);
        } catch (error) {
          if (error instanceof NodeQueryError && error.pgCode === PROMOTION_TIMEOUT_CODE)
            throw new TimeoutError(
              `promotion of ${ctx.target.name} did not happen within ${step.timeout} ms (requested; it may still complete)`,
            );
          if (!(error instanceof NodeQueryError) || error.pgCode === 'timeout') throw error;
          // The server could not wait itself (no PL/pgSQL, a dropped connection): ask and look from here.
          ctx.record('promote-waited-from-here', { target: ctx.target.name, why: error.message });
          await requestAndPoll(ctx, step);
        }
        ctx.noReturn.confirmed = true;
        return `${ctx.target.name} promoted in ${Math.round(performance.now() - started)} ms`;
      },
    },
  ];
}

/** Time beyond the server's own deadline for its answer to arrive, before the tool stops waiting for it. */
const ANSWER_MARGIN_MS = 5000;

/** From here each request costs a round trip, so it is made again less often than on the server. */
const RENUDGE_FROM_HERE_MS = 30;

/** The promotion requested, then pg_is_in_recovery() polled from the tool (asked again as RENUDGE_MS says). */
async function requestAndPoll(ctx: StepContext, step: z.output<typeof schema>): Promise<void> {
  await (await ctx.connections.node(ctx.target.name)).query(PROMOTE_SQL);
  let lastRequest = performance.now();
  await pollNode(ctx, {
    node: ctx.target.name,
    timeoutMs: step.timeout,
    intervalMs: step.poll_interval,
    what: `promotion of ${ctx.target.name}`,
    probe: async (s) => {
      const { in_recovery: inRecovery } = await s.one<{ in_recovery: boolean }>(IN_RECOVERY_SQL);
      if (inRecovery && performance.now() - lastRequest > RENUDGE_FROM_HERE_MS) {
        lastRequest = performance.now();
        ctx.record('promote-requested-again', { target: ctx.target.name });
        await s.query(PROMOTE_SQL).catch(() => undefined);
      }
      return inRecovery;
    },
    done: (inRecovery) => !inRecovery,
  });
}

/** Settings that would make writes fail or hang on the new primary, as the snapshot shows them. */
function unblockWrites(plan: PlanContext): Action<Out>[] {
  const settings = plan.targetObs?.settings ?? {};
  const changes: string[] = [];
  if (settings.synchronous_standby_names) changes.push("ALTER SYSTEM SET synchronous_standby_names = ''");
  if (settings.default_transaction_read_only === 'on') changes.push(RESET_READ_ONLY_SQL);
  if (changes.length === 0) return [];
  return [...changes, RELOAD_SQL].map((sql) => ({
    text: sqlText(plan.target.name, sql),
    run: async (ctx) => {
      if (sql.includes('synchronous_standby_names')) {
        ctx.log.notes.push(
          `synchronous_standby_names ('${settings.synchronous_standby_names}') cleared on ${ctx.target.name}; set it again once its standbys stream`,
        );
      }
      await (await ctx.connections.node(ctx.target.name)).query(sql);
    },
  }));
}
