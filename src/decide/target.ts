/** Chooses the node to promote: a healthy, caught-up replica of the primary, stable between the dry run and the run. Pure. */
import { nodeAt, replicasOf, type ClusterState } from '../model/cluster-state.js';
import type { NodeObservation } from '../model/node.js';
import { formatMs } from '../util/time.js';

export function streamsFrom(state: ClusterState, replica: NodeObservation, primaryName: string): boolean {
  const receiver = replica.walReceiver;
  return receiver?.status === 'streaming' && nodeAt(state, receiver.senderHost, receiver.senderPort) === primaryName;
}

/** Why a replica will not be waited for (it cannot be expected to stream from the new primary soon), or undefined. */
/** `upstream` undefined: streaming is not required (after a restart of the primary, replicas are still reconnecting). */
export function notWaitedFor(state: ClusterState, node: NodeObservation, upstream?: string): string | undefined {
  const delay = node.settings.recovery_min_apply_delay ?? '0';
  if (delay !== '0')
    return `recovery_min_apply_delay = ${formatMs(Number(delay))}: it reaches the new timeline only after that delay`;
  if (node.replayPaused) return 'its WAL replay is paused';
  if (upstream === undefined) return undefined;
  if (node.walReceiver?.status !== 'streaming')
    return `it is not streaming now (${node.walReceiver ? node.walReceiver.status : 'no WAL receiver'})`;
  if (!streamsFrom(state, node, upstream))
    return `it streams from ${node.walReceiver.senderHost}:${node.walReceiver.senderPort}, not from ${upstream}`;
  return undefined;
}

/**
 * Replicas this close to the most advanced one are equally good: the choice among them goes by
 * name, so it does not flip between the dry run and the run as WAL streams in under load.
 */
export const CAUGHT_UP_BYTES = 16n * 1024n * 1024n;

/** The healthy replica of `primary` to promote: caught up (within CAUGHT_UP_BYTES of the most advanced), then first by name. */
export function chooseTarget(state: ClusterState, primary: NodeObservation): NodeObservation | undefined {
  const candidates = replicasOf(state).filter(
    (replica) =>
      streamsFrom(state, replica, primary.name) &&
      !replica.replayPaused &&
      replica.systemIdentifier === primary.systemIdentifier &&
      replica.timeline === primary.timeline,
  );
  const best = candidates.reduce((max, r) => ((r.replayLsn ?? 0n) > max ? (r.replayLsn ?? 0n) : max), 0n);
  return candidates
    .filter((r) => best - (r.replayLsn ?? 0n) <= CAUGHT_UP_BYTES)
    .sort((a, b) => a.name.localeCompare(b.name))[0];
}
