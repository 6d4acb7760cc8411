/** Chooses the node to promote: the healthiest replica of the primary with the least lag. Pure. */
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
  if (delay !== '0') return `recovery_min_apply_delay = ${formatMs(Number(delay))}: it reaches the new timeline only after that delay`;
  if (node.replayPaused) return 'its WAL replay is paused';
  if (upstream === undefined) return undefined;
  if (node.walReceiver?.status !== 'streaming') return `it is not streaming now (${node.walReceiver ? node.walReceiver.status : 'no WAL receiver'})`;
  if (!streamsFrom(state, node, upstream)) return `it streams from ${node.walReceiver.senderHost}:${node.walReceiver.senderPort}, not from ${upstream}`;
  return undefined;
}

export function chooseTarget(state: ClusterState, primary: NodeObservation): NodeObservation | undefined {
  const candidates = replicasOf(state).filter(
    (replica) =>
      streamsFrom(state, replica, primary.name) &&
      !replica.replayPaused &&
      replica.systemIdentifier === primary.systemIdentifier &&
      replica.timeline === primary.timeline,
  );
  candidates.sort((a, b) => {
    const lsnA = a.replayLsn ?? 0n;
    const lsnB = b.replayLsn ?? 0n;
    return lsnA === lsnB ? a.name.localeCompare(b.name) : lsnA > lsnB ? -1 : 1;
  });
  return candidates[0];
}
