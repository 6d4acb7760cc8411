/**
 * Making a node stream from the new primary (shared by follow and demote-old-primary): a slot for
 * it on the new primary when slots are used, primary_conninfo and primary_slot_name set and
 * reloaded (PostgreSQL 13+ needs no restart), then waiting until it streams on the new timeline.
 */
import { peerAddress, type NodeSpec } from '../inventory/model.js';
import { parseConninfo } from '../inventory/dsn.js';
import { conninfoTowards, maskConninfo, slotNameFor } from '../postgres/conninfo.js';
import {
  ENSURE_SLOT_SQL,
  RECEIVER_SQL,
  RELOAD_SQL,
  setPrimaryConninfoSql,
  setPrimarySlotSql,
  withValues,
  type ReceiverRow,
} from '../postgres/sql.js';
import { StepFailedError } from '../errors.js';
import { standbyConfLines, writeStandbyConf } from '../postgres/server-control.js';
import { pollNode } from './poll.js';
import { sqlText, type Action, type PlanContext, type StepContext } from './types.js';

/** `conninfo` already points at the new primary; the dry run shows it with its password masked. */
export function followActions<O>(plan: PlanContext, node: NodeSpec, conninfo: string, slot: string): Action<O>[] {
  const on = async (ctx: StepContext, name: string, sql: string, params: unknown[] = []) => {
    await (await ctx.connections.node(name)).query(sql, params);
  };
  return [
    ...(slot
      ? [
          {
            group: node.name,
            text: sqlText(plan.target.name, withValues(ENSURE_SLOT_SQL, [slot])),
            run: (ctx: StepContext) => on(ctx, ctx.target.name, ENSURE_SLOT_SQL, [slot]),
          },
        ]
      : []),
    {
      group: node.name,
      text: sqlText(node.name, setPrimaryConninfoSql(maskConninfo(conninfo))),
      run: (ctx) => on(ctx, node.name, setPrimaryConninfoSql(conninfo)),
    },
    {
      group: node.name,
      text: sqlText(node.name, setPrimarySlotSql(slot)),
      run: (ctx) => on(ctx, node.name, setPrimarySlotSql(slot)),
    },
    { group: node.name, text: sqlText(node.name, RELOAD_SQL), run: (ctx) => on(ctx, node.name, RELOAD_SQL) },
  ];
}

export const waitStreamingText = (plan: PlanContext, node: NodeSpec): string =>
  `${sqlText(node.name, RECEIVER_SQL)}  (until streaming from ${plan.target.name})`;

/** `timeline`: the one it must stream on (default: the new primary's, as resume read it). */
export async function waitStreaming(
  ctx: StepContext,
  node: NodeSpec,
  timeoutMs: number,
  timeline = ctx.outputs.resume.newTimeline,
): Promise<void> {
  const { host, port } = peerAddress(ctx.target);
  const streaming = (row: ReceiverRow | undefined): boolean =>
    row !== undefined &&
    row.status === 'streaming' &&
    row.sender_host === host &&
    Number(row.sender_port) === port &&
    Number(row.received_tli) >= (timeline ?? 0);
  let askedAt = performance.now();
  let silences = 0;
  await pollNode(ctx, {
    node: node.name,
    timeoutMs,
    intervalMs: 20,
    what: `${node.name} streaming from ${ctx.target.name} on timeline ${timeline}`,
    probe: async (session) => {
      const row = (await session.query<ReceiverRow>(RECEIVER_SQL))[0];
      // Not streaming yet: is there still a new primary to stream from? (soak seed 20261210:
      // the new primary SIGKILLed after the clients were released; the run waited its whole
      // 60 s timeout for a stream that could not come before it said so.)
      if (!streaming(row) && performance.now() - askedAt >= NEW_PRIMARY_ASKED_EVERY_MS) {
        askedAt = performance.now();
        const silent = await newPrimarySilence(ctx);
        silences = silent ? silences + 1 : 0;
        // Twice in a row, half a second apart: a busy server is not a dead one.
        if (silent && silences >= 2)
          throw new StepFailedError(
            `${ctx.target.name}, the new primary, stopped answering while ${node.name} waited to stream from it (${silent})`,
          );
      }
      return row;
    },
    done: streaming,
    describe: (row) =>
      row ? `${row.status} from ${row.sender_host}:${row.sender_port} timeline ${row.received_tli}` : 'no WAL receiver',
  });
}

/** While a node is not streaming yet, how often the new primary itself is asked whether it still answers. */
const NEW_PRIMARY_ASKED_EVERY_MS = 500;
/** Its answer must come within this (a fresh login, if its held session was dropped). */
const NEW_PRIMARY_ANSWER_MS = 1000;

/** Why the new primary does not answer `SELECT 1` (on its held session, else a fresh one), or undefined if it does. */
async function newPrimarySilence(ctx: StepContext): Promise<string | undefined> {
  let problem = 'no session';
  // Twice: a held session the server dropped is noticed by the first try and replaced by the second.
  for (let attempt = 1; attempt <= 2; attempt++) {
    const session = await ctx.connections.reach(ctx.target.name, NEW_PRIMARY_ANSWER_MS);
    if (!session) return `no login within ${NEW_PRIMARY_ANSWER_MS} ms`;
    try {
      await session.query('SELECT 1', [], NEW_PRIMARY_ANSWER_MS);
      return undefined;
    } catch (error) {
      problem = (error as Error).message.replace(/^[^:]+: /, '');
    }
  }
  return problem;
}

/**
 * The physical slots the cluster's members used, by what they use (each replica's
 * primary_slot_name as observed), not only by the names this tool gives (a node's own name).
 */
export function memberSlots(plan: PlanContext): string[] {
  const used = plan.state.nodes.flatMap((n) =>
    n.reachable && n.settings.primary_slot_name ? [n.settings.primary_slot_name] : [],
  );
  return [...new Set([...plan.inventory.nodes.map((n) => slotNameFor(n.name)), ...used])].sort();
}

/** Slot and conninfo a former primary will use to stream from the target: modelled on how the replicas stream. */
export function rejoinUpstream(plan: PlanContext): { slot: string; conninfo: string } {
  const slot = plan.replication.usesSlots ? slotNameFor(plan.primary.name) : '';
  const existing = plan.replication.conninfo;
  return {
    slot,
    conninfo: conninfoTowards(
      existing,
      peerAddress(plan.target),
      parseConninfo(existing).application_name ? plan.primary.name : undefined,
    ),
  };
}

/**
 * A stopped node's upstream, set before it starts (rejoin, a returned replica in a rolling
 * restart): its slot on the upstream, then primary_conninfo and primary_slot_name written to its
 * postgresql.auto.conf. A node that must replay WAL from its upstream to become consistent
 * would never accept the connection an ALTER SYSTEM needs.
 */
export function standbyBeforeStartActions<O>(
  upstream: NodeSpec,
  node: NodeSpec,
  conninfo: string,
  slot: string,
  why: string,
): Action<O>[] {
  return [
    ...(slot
      ? [
          {
            text: sqlText(upstream.name, withValues(ENSURE_SLOT_SQL, [slot])),
            run: async (ctx: StepContext) =>
              void (await (await ctx.connections.node(upstream.name)).query(ENSURE_SLOT_SQL, [slot])),
          },
        ]
      : []),
    {
      text: `[${node.name}] shell: in ${node.dataDir ?? '<data_dir>'}/postgresql.auto.conf: ${standbyConfLines(maskConninfo(conninfo), slot).join('; ')}  (${why})`,
      run: async (ctx: StepContext) => {
        const runner = ctx.host(node);
        if (!runner)
          throw new StepFailedError(`${node.name} has no host_access: its standby settings cannot be written`);
        await writeStandbyConf(runner, node, conninfo, slot);
      },
    },
  ];
}
