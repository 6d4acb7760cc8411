/** The record a later failover reads when the primary can no longer be asked (model/incident.ts LastSeen). Pure. */
import { primariesOf, replicasOf, type ClusterState } from '../model/cluster-state.js';
import type { LastSeen } from '../model/incident.js';
import { formatLsn } from '../model/lsn.js';
import { standbyNameOf } from './lag.js';

/** Commits wait for synchronous standbys only with these synchronous_commit values. */
const WAITS = new Set(['on', 'remote_apply', 'remote_write']);

export function lastSeenOf(state: ClusterState): LastSeen | undefined {
  const primaries = primariesOf(state);
  if (primaries.length !== 1) return undefined;
  const primary = primaries[0]!;
  const replicas = replicasOf(state);
  // A walsender knows its standby by the name the standby gives (application_name, else cluster_name).
  const nodeOf = (applicationName: string) =>
    replicas.find((r) => standbyNameOf(r.settings) === applicationName)?.name ??
    state.inventory.nodes.find((n) => n.name === applicationName)?.name;
  const waits =
    WAITS.has(primary.settings.synchronous_commit ?? 'on') && Boolean(primary.settings.synchronous_standby_names);
  return {
    at: state.observedAt,
    primary: primary.name,
    timeline: primary.timeline,
    flushLsn: primary.flushLsn === undefined ? undefined : formatLsn(primary.flushLsn),
    syncStandbys: waits
      ? primary.replication
          .filter((p) => p.syncState === 'sync' || p.syncState === 'quorum')
          .flatMap((p) => nodeOf(p.applicationName) ?? [])
      : [],
  };
}
