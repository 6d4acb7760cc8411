/** Renders a ClusterState for people (a table) and for machines (plain JSON). */
import { nodeAt, type ClusterState } from '../model/cluster-state.js';
import { formatLsn, lsnDiff, maxLsn } from '../model/lsn.js';
import type { NodeObservation } from '../model/node.js';
import { table } from './output.js';

export function renderStatus(state: ClusterState): string {
  const primaryFlush = maxLsn(...state.nodes.map((n) => (n.reachable && !n.inRecovery ? n.flushLsn : undefined)));
  const rows = [['NODE', 'ROLE', 'TL', 'LSN', 'REPLICATION']];
  for (const node of state.nodes) {
    if (!node.reachable) {
      rows.push([node.name, 'unreachable', '-', '-', node.error]);
      continue;
    }
    rows.push([
      node.name,
      roleOf(node),
      String(node.timeline ?? '?'),
      formatLsn(node.flushLsn ?? node.replayLsn),
      replicationOf(node, state, primaryFlush),
    ]);
  }
  const lines = [table(rows)];
  for (const pooler of state.poolers) {
    if (!pooler.reachable) {
      lines.push(`pooler ${pooler.name}: unreachable (${pooler.error})`);
      continue;
    }
    for (const db of pooler.routes) {
      const node = nodeAt(state, db.host, db.port) ?? 'unknown node';
      lines.push(
        `pooler ${pooler.name}: ${db.name} -> ${node} (${db.host}:${db.port})${db.paused ? ', PAUSED' : ''}${db.disabled ? ', DISABLED' : ''}`,
      );
    }
  }
  if (state.lockHolder) lines.push(`lock: held by "${state.lockHolder.applicationName}" (pid ${state.lockHolder.pid})`);
  return lines.join('\n');
}

function roleOf(node: NodeObservation): string {
  if (!node.inRecovery) return node.settings.default_transaction_read_only === 'on' ? 'primary (read-only)' : 'primary';
  return node.replayPaused ? 'replica (replay paused)' : 'replica';
}

function replicationOf(node: NodeObservation, state: ClusterState, primaryFlush: bigint | undefined): string {
  if (!node.inRecovery) {
    const peers = node.replication.map((p) => `${p.applicationName}:${p.state}`);
    return peers.length ? `${peers.length} attached (${peers.join(', ')})` : 'no replicas attached';
  }
  const receiver = node.walReceiver;
  if (!receiver) return 'not streaming';
  const upstream =
    nodeAt(state, receiver.senderHost, receiver.senderPort) ?? `${receiver.senderHost}:${receiver.senderPort}`;
  const lag = lsnDiff(primaryFlush, node.replayLsn);
  return `${receiver.status} from ${upstream}${lag === undefined ? '' : `, replay lag ${lag} B`}`;
}

export function statusJson(state: ClusterState): unknown {
  return {
    observedAt: state.observedAt,
    nodes: state.nodes.map((n) =>
      n.reachable
        ? {
            name: n.name,
            role: n.inRecovery ? 'replica' : 'primary',
            timeline: n.timeline,
            flushLsn: formatLsn(n.flushLsn),
            replayLsn: n.replayLsn === undefined ? null : formatLsn(n.replayLsn),
            readOnly: n.settings.default_transaction_read_only === 'on',
            replayPaused: n.replayPaused,
            upstream: n.walReceiver
              ? (nodeAt(state, n.walReceiver.senderHost, n.walReceiver.senderPort) ?? null)
              : null,
            receiverStatus: n.walReceiver?.status ?? null,
            replicas: n.replication.map((p) => ({ name: p.applicationName, state: p.state })),
          }
        : { name: n.name, role: 'unreachable', error: n.error },
    ),
    poolers: state.poolers.map((p) =>
      p.reachable
        ? {
            name: p.name,
            databases: p.routes.map((d) => ({
              name: d.name,
              host: d.host,
              port: d.port,
              paused: d.paused,
              node: nodeAt(state, d.host, d.port) ?? null,
            })),
          }
        : { name: p.name, error: p.error },
    ),
    lockHolder: state.lockHolder ?? null,
  };
}
