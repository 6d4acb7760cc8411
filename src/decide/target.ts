/** Chooses the node to promote: the healthiest replica of the primary with the least lag. Pure. */
import { nodeAt, replicasOf, type ClusterState } from '../cluster/state.js';
import type { NodeObservation } from '../postgres/observe.js';

export function streamsFrom(state: ClusterState, replica: NodeObservation, primaryName: string): boolean {
  const receiver = replica.walReceiver;
  return receiver?.status === 'streaming' && nodeAt(state, receiver.senderHost, receiver.senderPort) === primaryName;
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
