/**
 * restart-replicas — a rolling restart's first half: each replica still on the old binaries, one
 * at a time, stopped cleanly and started on the new ones, then waited for until it streams from
 * the primary again, has caught up (within max_lag_bytes) and runs the expected version. Clients
 * are not held: the primary is untouched. Precondition: preflight passed. Output: the replicas
 * restarted. On the first replica that does not come back the run stops here, before the
 * switchover, with the primary as it was. Undo: none (a restarted replica is a healthy replica).
 */
import { StepFailedError } from '../errors.js';
import { peerAddress, type NodeSpec } from '../inventory/model.js';
import { lsnDiff, parseLsn } from '../model/lsn.js';
import { versionText } from '../model/node.js';
import { bytes, duration, stepParams } from '../playbook/fields.js';
import { startCommand, startServer, stopCommand, stopFast } from '../postgres/server-control.js';
import { conninfoTowards, slotNameFor } from '../postgres/conninfo.js';
import { FLUSH_SQL } from '../postgres/sql.js';
import { streamsFrom } from '../decide/target.js';
import { pollNode } from './poll.js';
import { standbyBeforeStartActions } from './upstream.js';
import {
  onNewBinaries,
  shellText,
  sqlText,
  type Action,
  type PlanContext,
  type StepContext,
  type StepDefinition,
} from './types.js';

const schema = stepParams('restart-replicas', {
  /** How long each replica may take to stop, start, and stream caught up again. */
  timeout: duration('60s'),
  max_lag_bytes: bytes.default(16 * 1024 * 1024),
});

interface Out {
  restarted: string[];
}

const CAUGHT_UP_SQL = `SELECT r.status, r.sender_host, r.sender_port, pg_last_wal_replay_lsn()::text AS replay,
  current_setting('server_version_num')::int AS version_num FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver r ON true`;

interface CaughtUpRow {
  status: string | null;
  sender_host: string | null;
  sender_port: number | null;
  replay: string | null;
  version_num: number;
}

export const restartReplicasStep: StepDefinition<typeof schema, Out> = {
  schema,
  title: (_s, plan) =>
    `restart ${plan.rolling?.restart.join(', ') || 'no replica'} on ${plan.rolling ? versionText(plan.rolling.versionNum) : 'the new binaries'}`,
  actions: (step, plan) =>
    (plan.rolling?.restart ?? []).flatMap((name) =>
      replicaActions(
        plan,
        plan.inventory.nodes.find((n) => n.name === name)!,
        step,
      ),
    ),
  async run(_step, ctx, out, actions) {
    out.restarted = [];
    for (const action of actions) await action.run?.(ctx, out);
    return out.restarted.length
      ? `${out.restarted.join(', ')} restarted on ${versionText(ctx.rolling!.versionNum)}, streaming and caught up`
      : 'every replica already runs the new binaries';
  },
};

function replicaActions(
  plan: PlanContext,
  node: NodeSpec,
  step: { timeout: number; max_lag_bytes: number },
): Action<Out>[] {
  const upstream = peerAddress(plan.primary);
  const fail = (ctx: StepContext, what: string) => {
    ctx.log.leftToDo.push(
      `${node.name} did not come back on the new binaries (${what}); see its log${node.logFile ? ` (${node.logFile})` : ''}, fix it, make sure it runs, and run the rolling restart again: it continues where it stopped`,
    );
    return new StepFailedError(
      `${node.name} did not come back on the new binaries: ${what}; stopped before the switchover, ${plan.primary.name} is still the primary`,
    );
  };
  // A replica that came back after being down streams from nothing (or from an old primary): it
  // is pointed at the primary, its slot there made, before it starts on the new binaries.
  const obs = plan.state.nodes.find((n) => n.name === node.name);
  const astray = obs?.reachable === true && !streamsFrom(plan.state, obs, plan.primary.name);
  const conninfo = astray ? conninfoTowards(obs.settings.primary_conninfo || plan.replication.conninfo, upstream) : '';
  const slot = astray
    ? obs.settings.primary_slot_name || (plan.replication.usesSlots ? slotNameFor(node.name) : '')
    : '';
  const repoint = astray
    ? standbyBeforeStartActions<Out>(
        plan.primary,
        node,
        conninfo,
        slot,
        `it does not stream from ${plan.primary.name} now`,
      )
    : [];
  return [
    {
      text: shellText(node.name, stopCommand(node, step.timeout)),
      run: async (ctx) => {
        const runner = ctx.host(node);
        if (!runner) throw new StepFailedError(`${node.name} has no host_access: it cannot be restarted from here`);
        await stopFast(runner, node, step.timeout);
      },
    },
    ...repoint,
    {
      text: shellText(node.name, startCommand(onNewBinaries(plan, node), step.timeout)),
      run: async (ctx) => {
        try {
          await startServer(ctx.host(node)!, onNewBinaries(ctx, node), step.timeout);
        } catch (error) {
          // The cluster as it was, if the new binaries are the trouble: started again on its own.
          const back =
            onNewBinaries(ctx, node) !== node &&
            (await startServer(ctx.host(node)!, node, step.timeout).then(
              () => true,
              () => false,
            ));
          if (back)
            ctx.log.notes.push(
              `${node.name} was started again on its old binaries (${node.binDir ?? 'its bin directory'})`,
            );
          throw fail(ctx, (error as Error).message);
        }
      },
    },
    {
      text: `${sqlText(node.name, CAUGHT_UP_SQL.replace(/\s+/g, ' '))}  (until streaming from ${plan.primary.name}, replay lag <= ${step.max_lag_bytes} B, server_version_num ${plan.rolling?.versionNum})`,
      run: async (ctx, out) => {
        const primary = await ctx.connections.node(ctx.primary.name);
        let running: number;
        try {
          running = Number(
            (
              await pollNode(ctx, {
                node: node.name,
                timeoutMs: step.timeout,
                intervalMs: 50,
                what: `${node.name} streaming from ${ctx.primary.name} and caught up`,
                probe: async (session) => {
                  const row = await session.one<CaughtUpRow>(CAUGHT_UP_SQL);
                  const flush = parseLsn((await primary.one<{ lsn: string }>(FLUSH_SQL)).lsn);
                  return { row, lag: lsnDiff(flush, parseLsn(row.replay ?? undefined)) };
                },
                done: ({ row, lag }) =>
                  row.status === 'streaming' &&
                  row.sender_host === upstream.host &&
                  Number(row.sender_port) === upstream.port &&
                  lag !== undefined &&
                  lag <= BigInt(step.max_lag_bytes),
                describe: (seen) =>
                  seen ? `${seen.row.status ?? 'no WAL receiver'}, replay lag ${seen.lag ?? '?'} B` : 'no answer',
              })
            ).row.version_num,
          );
        } catch (error) {
          throw fail(ctx, (error as Error).message);
        }
        if (running !== ctx.rolling!.versionNum)
          throw fail(ctx, `it runs ${versionText(running)}, not ${versionText(ctx.rolling!.versionNum)}`);
        out.restarted.push(node.name);
        return `${node.name} on ${versionText(running)}, streaming from ${ctx.primary.name}`;
      },
    },
  ];
}
