/**
 * How far behind the target replays, in time. The primary's pg_stat_replication row is the best
 * source, but only when it is surely the target's: matched through the target's slot (whose
 * active_pid is the walsender's pid), or by an application_name no other standby shares. libpq's
 * default application_name is "walreceiver" for every standby, so a name match alone can pick
 * the wrong row. Otherwise the replica is asked itself: nothing left to replay means 0, else the
 * age of the last replayed commit. Pure.
 */
import { parseConninfo } from '../inventory/dsn.js';
import type { NodeObservation, ReplicationPeer } from '../model/node.js';

export interface ReplayLag {
  readonly ms: number;
  readonly source: string;
}

export function replayLag(primary: NodeObservation, target: NodeObservation): ReplayLag {
  const peer = peerOf(primary, target);
  if (peer)
    return { ms: peer.row.replayLagMs ?? 0, source: `pg_stat_replication on ${primary.name}, matched by ${peer.by}` };
  const caughtUp =
    target.receiveLsn !== undefined && target.replayLsn !== undefined && target.replayLsn >= target.receiveLsn;
  return caughtUp
    ? { ms: 0, source: `${target.name} has replayed all it received` }
    : {
        ms: Math.max(0, target.replayAgeMs ?? Number.POSITIVE_INFINITY),
        source: `age of the last transaction replayed on ${target.name}`,
      };
}

export function peerOf(
  primary: NodeObservation,
  target: NodeObservation,
): { row: ReplicationPeer; by: string } | undefined {
  const slot = target.walReceiver?.slotName;
  const pid = slot ? primary.slots.find((s) => s.name === slot)?.activePid : undefined;
  const bySlot = pid === undefined ? undefined : primary.replication.find((r) => r.pid === pid);
  if (bySlot) return { row: bySlot, by: `slot ${slot}` };
  const name = standbyNameOf(target.settings);
  const named = primary.replication.filter((r) => r.applicationName === name);
  return named.length === 1 ? { row: named[0]!, by: `application_name ${name}` } : undefined;
}

/**
 * What a standby's walreceiver calls itself (the name synchronous_standby_names lists): its
 * conninfo's application_name, else cluster_name, else libpq's default.
 */
export function standbyNameOf(
  settings: Readonly<Record<string, string>>,
  conninfo = settings.primary_conninfo ?? '',
): string {
  let fromConninfo: string | undefined;
  try {
    fromConninfo = parseConninfo(conninfo).application_name;
  } catch {
    fromConninfo = undefined;
  }
  return fromConninfo || settings.cluster_name || 'walreceiver';
}
