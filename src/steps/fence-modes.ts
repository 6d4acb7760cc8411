/**
 * The ways to stop the old primary accepting commits, as one table. Each mode says what it needs,
 * what it does (actions), how catch-up is judged against the final position it yields, whether
 * the old primary can rejoin as a replica afterwards, and what verify must find on it.
 * Order matters: `auto` takes the first mode whose needs are met.
 */
import { StepFailedError } from '../errors.js';
import type { Action, PlanContext } from './types.js';
import { isWritable, type Writability } from '../model/writability.js';
import type { FenceOutput } from './outputs.js';
import { formatLsn, parseLsn, type Lsn } from '../model/lsn.js';
import { FLUSH_SQL, READ_ONLY_SQL, SESSIONS_LEFT_SQL, TERMINATE_SQL } from '../postgres/sql.js';
import type { ControlData } from '../postgres/controldata.js';
import {
  controlDataCommand,
  localPostmasterPid,
  readControlData,
  stopCommand,
  stopFast,
} from '../postgres/server-control.js';
import { describeFailure, run } from '../shell/exec.js';
import { shellText, sqlText } from './types.js';
import { hookWords } from '../inventory/model.js';
import { answeringRoleFence, ROLE_FENCE } from './role-fence.js';
import { untilSessionsGone } from './sessions-gone.js';

export interface FenceMode {
  /** It acts on the old primary's host (stop, pg_controldata), so it needs host_access and data_dir. */
  readonly needsHostAccess: boolean;
  /** For the preflight check: "fence by …". */
  readonly checkText: string;
  readonly title: (primary: string) => string;
  /** What it does once the routers hold clients; sets the final position in the fence's output. */
  actions(plan: PlanContext, stopTimeoutMs: number): Action<FenceOutput>[];
  /** Whether the target's replay position covers the final position. */
  caughtUp(replay: Lsn, final: Lsn): boolean;
  readonly catchupText: string;
  /**
   * A failover's mode: the old primary is down or hung. The final position is all the target
   * received, which may end inside a record the old primary never finished sending, so catch-up
   * also ends when replay and receipt have both stood still; and an undo releases clients without
   * first proving the old primary writable (no promotion happened; it is still the only primary).
   */
  readonly failover?: true;
  /** After promotion, the old primary restarts as a replica (it was stopped cleanly), or stays fenced. */
  readonly rejoins: boolean;
  /** The platform's switchover fences and syncs itself: no final position of the tool's, no catch-up to wait for. */
  readonly platform?: true;
  /** What this mode does not stop, said in the report (a read-only default does not stop a determined client). */
  readonly advisory?: string;
  /** What verify reports when the old primary answers as `seen` says; absent: verify does not contact it (a failover's dead or hung node). */
  oldPrimaryProblem?(seen: Writability, name: string): string | undefined;
}

/** pg_control as the clean stop last saw it, per fence output, for the action that reads it next. */
const seenAtStop = new WeakMap<FenceOutput, ControlData>();

export type FenceMethod = 'clean-stop' | 'role-fence' | 'read-only' | 'platform' | 'fence-command' | 'pooler-only';

/** A planned switchover's modes, in `auto`'s order; the others fence a primary that is already down or hung (failover). */
export const PLANNED_FENCES = [
  'clean-stop',
  'role-fence',
  'read-only',
  'platform',
] as const satisfies readonly FenceMethod[];

export const FENCE_MODES: Readonly<Record<FenceMethod, FenceMode>> = {
  'clean-stop': {
    needsHostAccess: true,
    checkText: 'a clean stop of the old primary',
    title: (primary) => `stop ${primary} cleanly`,
    actions: (plan, stopTimeoutMs) => [
      {
        text: plan.primary.service?.stop
          ? `${shellText(plan.primary.name, stopCommand(plan.primary, stopTimeoutMs))}  (its service manager; pg_control watched for "shut down")`
          : plan.primary.hostAccess?.kind === 'local'
            ? `[${plan.primary.name}] signal: SIGINT to the postmaster (pid from ${plan.primary.dataDir}/postmaster.pid), wait for it to exit (fast shutdown)`
            : shellText(plan.primary.name, stopCommand(plan.primary, stopTimeoutMs)),
        run: async (ctx, out) => {
          const runner = ctx.host(ctx.primary);
          if (!runner) throw new StepFailedError(`${ctx.primary.name} has no host_access: cannot stop it cleanly`);
          out.postmasterPid ??= ctx.outputs.checkpoint.postmasterPid ?? localPostmasterPid(runner, ctx.primary);
          const started = performance.now();
          out.stopRequested = true;
          const { exited, control } = await stopFast(runner, ctx.primary, stopTimeoutMs, out.postmasterPid);
          if (control) seenAtStop.set(out, control);
          return `${ctx.primary.name} ${exited ? 'stopped' : 'wrote its shutdown checkpoint (postmaster still exiting)'} in ${Math.round(performance.now() - started)} ms`;
        },
      },
      {
        text: `${shellText(plan.primary.name, controlDataCommand(plan.primary))}  (require 'shut down'; final LSN = latest checkpoint)`,
        run: async (ctx, out) => {
          // Already read while the stop was watched (a remote host: one round trip fewer while clients wait).
          const control = seenAtStop.get(out) ?? (await readControlData(ctx.host(ctx.primary)!, ctx.primary));
          if (control.state !== 'shut down' || control.checkpointLsn === undefined) {
            throw new StepFailedError(
              `${ctx.primary.name} did not shut down cleanly (pg_controldata: "${control.state}"); its final position is unknown`,
            );
          }
          out.stopped = true;
          out.finalLsn = control.checkpointLsn;
          out.finalLsnSource = 'latest checkpoint in pg_control after the clean shutdown';
          out.oldTimeline = control.timeline;
          return `shutdown checkpoint at ${formatLsn(control.checkpointLsn)}`;
        },
      },
    ],
    // The replay position is the end of the last replayed record, so a replayed checkpoint record is > its start.
    caughtUp: (replay, final) => replay > final,
    catchupText: '> shutdown checkpoint',
    rejoins: true,
    oldPrimaryProblem: (seen, name) => (seen.inRecovery ? undefined : `${name} is running as a primary: two primaries`),
  },
  'role-fence': ROLE_FENCE,
  'read-only': {
    needsHostAccess: false,
    checkText: 'read-only + terminating sessions',
    title: (primary) => `${primary} read-only`,
    actions: (plan, stopTimeoutMs) => [
      ...READ_ONLY_SQL.map((sql): Action<FenceOutput> => ({
        text: sqlText(plan.primary.name, sql),
        run: async (ctx, out) => {
          out.readOnly = true;
          await (await ctx.connections.node(ctx.primary.name)).query(sql);
        },
      })),
      {
        text: sqlText(plan.primary.name, TERMINATE_SQL.replace('$1', "'<this run>'")),
        run: async (ctx) => {
          const { n } = await (
            await ctx.connections.node(ctx.primary.name)
          ).one<{ n: number }>(TERMINATE_SQL, [ctx.applicationName]);
          ctx.log.notes.push(`${ctx.primary.name} fenced read-only: ${FENCE_MODES['read-only'].advisory}`);
          return `${ctx.primary.name} read-only, ${n} session(s) terminated`;
        },
      },
      untilSessionsGone(
        plan,
        { sql: SESSIONS_LEFT_SQL, shown: "'<this run>'", params: (ctx) => [ctx.applicationName] },
        'the terminated sessions',
        stopTimeoutMs,
      ),
      {
        text: sqlText(plan.primary.name, FLUSH_SQL),
        run: async (ctx, out) => {
          const lsn = parseLsn(
            (await (await ctx.connections.node(ctx.primary.name)).one<{ lsn: string }>(FLUSH_SQL)).lsn,
          );
          out.finalLsn = lsn;
          out.finalLsnSource =
            'flush position after the read-only fence (weaker: a running server still writes some WAL)';
          return `flush position ${formatLsn(lsn)}`;
        },
      },
    ],
    caughtUp: (replay, final) => replay >= final,
    catchupText: '>= flush position after fence',
    rejoins: false,
    advisory:
      'the read-only default is advisory: a direct client (not through a pooler) can still write with SET default_transaction_read_only = off or BEGIN READ WRITE',
    oldPrimaryProblem: (seen, name) =>
      !seen.inRecovery && !seen.readOnly ? `${name} is writable again: two primaries` : undefined,
  },
  // The platform's own switchover fences the old primary and syncs the target itself: the tool holds clients around it.
  platform: {
    needsHostAccess: false,
    checkText:
      "the platform's own switchover (it fences the old primary and syncs the target itself; the pause is the platform's)",
    title: (primary) => `${primary} left to the platform's switchover`,
    actions: (plan) => [
      {
        text: `none: the platform fences ${plan.primary.name} and syncs ${plan.target.name} itself (its switchover, in the promote step); the clients' pause lasts as long as the platform's switchover`,
        run: async () => 'clients held for the platform',
      },
    ],
    caughtUp: () => true,
    catchupText: "the platform's guarantee (its switchover syncs before it swaps roles)",
    platform: true,
    rejoins: false,
    oldPrimaryProblem: (seen, name) =>
      !seen.inRecovery && !seen.readOnly
        ? `${name} is still a writable primary after the platform's switchover`
        : undefined,
  },
  // A failover: the routers are fenced first (fence-old-primary); these say what happens to the node itself.
  'fence-command': {
    needsHostAccess: false,
    checkText: "the node's fence_command (STONITH), after the poolers",
    title: (primary) => `${primary} fenced by its fence_command`,
    actions: (plan, timeoutMs) => [
      // A managed estate: where it still answers, its roles first (the platform's stop can take minutes).
      ...(plan.managed ? [answeringRoleFence(plan)] : []),
      {
        text: `[tool] shell: ${hookWords(plan.primary, plan.primary.fenceCommand ?? []).join(' ')}  (fence_command of ${plan.primary.name}; exit 0 within ${timeoutMs} ms, or the run stops before promotion)`,
        run: async (ctx) => {
          const result = await run(hookWords(ctx.primary, ctx.primary.fenceCommand!), {
            timeoutMs,
            signal: ctx.signal,
          });
          ctx.record('fence-command', {
            node: ctx.primary.name,
            ok: result.ok,
            exitCode: result.exitCode,
            timedOut: result.timedOut,
            ms: Math.round(result.durationMs),
          });
          if (!result.ok)
            throw new StepFailedError(
              `${describeFailure(`fence_command of ${ctx.primary.name}`, result)}; not promoting: ${ctx.primary.name} may still be serving`,
            );
          return `${ctx.primary.name} fenced by its fence_command in ${Math.round(result.durationMs)} ms`;
        },
      },
    ],
    caughtUp: (replay, final) => replay >= final,
    catchupText: '>= all it received from the old primary, or replay and receipt both still for 100 ms',
    failover: true,
    rejoins: false,
    // A managed failover's old primary that still answered its role fence is fenced while its
    // application roles stay NOLOGIN (isWritable says so, as it does for `check`).
    oldPrimaryProblem: (seen, name) =>
      isWritable(seen) ? `${name} answers as a writable primary although its fence_command succeeded` : undefined,
  },
  'pooler-only': {
    needsHostAccess: false,
    checkText: 'the poolers only (no fence_command in the inventory)',
    title: (primary) => `${primary} cut off at the poolers only`,
    actions: (plan) => [
      ...(plan.managed ? [answeringRoleFence(plan)] : []),
      {
        text: `[${plan.primary.name}] no fence_command: it may still accept direct (not pooled) connections if it comes back`,
        run: async (ctx) => {
          ctx.log.notes.push(
            `${ctx.primary.name} has no fence_command: the poolers no longer send clients to it, but it may still accept direct (not pooled) connections if it comes back; stop it, then run \`pg-handover rejoin ${ctx.primary.name}\``,
          );
        },
      },
    ],
    caughtUp: (replay, final) => replay >= final,
    catchupText: '>= all it received from the old primary, or replay and receipt both still for 100 ms',
    failover: true,
    rejoins: false,
  },
};
