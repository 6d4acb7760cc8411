/**
 * How a failover decides, as pure functions of one ClusterState (observed with the playbook's
 * detection timeout) and the last record of the primary: which node was the primary and that it
 * is down or hung, from the tool's view and each replica's; the most advanced replica; what may
 * be lost; how the old primary is fenced.
 */
import { hookWords } from '../../inventory/model.js';
import { fail, pass, warn, type Check } from '../../decide/checks.js';
import type { RouterChecks } from '../../decide/preflight.js';
import { parseConninfo } from '../../inventory/dsn.js';
import { nodeAt, nodeState, primariesOf, replicasOf, type ClusterState } from '../../model/cluster-state.js';
import type { Incident, LastSeen, LossEstimate } from '../../model/incident.js';
import { formatLsn, maxLsn, parseLsn, type Lsn } from '../../model/lsn.js';
import type { NodeObservation, UnreachableNode } from '../../model/node.js';
import type { WitnessAnswer } from '../../model/witness.js';
import type { Decision } from '../../playbook/plan.js';
import type { Playbook, StepOf } from '../../playbook/schema.js';
import { pauseBudgetOf } from '../../steps/registry.js';
import type { PlanContext } from '../../steps/types.js';
import { formatMs } from '../../util/time.js';
import { othersOf, clusterReplicationTemplate } from '../../decide/followers.js';
import type { DecideInput } from '../types.js';
import type { FailoverOptions } from './options.js';

export type FailoverInput = DecideInput<FailoverOptions>;

/** The detection timeout and loss limit of a failover playbook (its confirm-failure step). */
export function detectionOf(playbook: Playbook): { timeoutMs: number; maxLossBytes: number } {
  const step = playbook.steps.find((s): s is StepOf<'confirm-failure'> => s.kind === 'confirm-failure');
  return { timeoutMs: step?.timeout ?? 2000, maxLossBytes: step?.max_data_loss_bytes ?? 1024 * 1024 };
}

export function decideFailover(state: ClusterState, playbook: Playbook, input: FailoverInput): Decision {
  const { timeoutMs, maxLossBytes } = detectionOf(playbook);
  const writable = primariesOf(state);
  if (writable.length) {
    const names = writable.map((n) => n.name).join(', ');
    return {
      checks: [
        fail(
          'primary-down',
          `${names} answer${writable.length > 1 ? '' : 's'} as a writable primary within ${formatMs(timeoutMs)}: nothing to fail over; for a planned move use \`pg-handover switchover\``,
        ),
      ],
    };
  }
  const found = formerPrimary(state, input.lastSeen);
  if ('problem' in found) return { checks: [fail('old-primary', found.problem)] };
  const old = found.node;
  const checks: Check[] = [pass('old-primary', `${old.name} was the primary (${found.evidence})`)];
  const silence = toolView(old, timeoutMs);
  checks.push(silence.check);
  const witnesses = witnessView(state, old.name, timeoutMs);
  checks.push(...witnesses.checks);
  checks.push(...routerView(state, old.name, input.routerChecks, pauseBudgetOf(playbook.steps)));
  const chosen = chooseCandidate(state, old.name, input.target, input.lastSeen);
  checks.push(chosen.check);
  if (!chosen.node) return { checks };
  const target = chosen.node;
  const loss = estimateLoss(state, target, old.name, input.lastSeen);
  const acceptDataLoss = input.options?.acceptDataLoss ?? false;
  checks.push(lossCheck(loss, maxLossBytes, acceptDataLoss));
  checks.push(...syncCheck(state, target, old.name, input.lastSeen, acceptDataLoss));
  const oldSpec = state.inventory.nodes.find((n) => n.name === old.name)!;
  const fenceMethod = oldSpec.fenceCommand ? 'fence-command' : 'pooler-only';
  checks.push(
    oldSpec.fenceCommand
      ? pass(
          'fence-method',
          `${old.name} is fenced at the poolers, then by its fence_command (${hookWords(oldSpec, oldSpec.fenceCommand).join(' ')})`,
        )
      : warn(
          'fence-method',
          `${old.name} has no fence_command in the inventory: it is fenced at the poolers only and may still accept direct (not pooled) connections if it comes back`,
        ),
  );
  const incident: Incident = {
    silence: old.silence ?? 'other',
    detectionMs: timeoutMs,
    witnesses: witnesses.names,
    loss,
  };
  const targetSpec = state.inventory.nodes.find((n) => n.name === target.name)!;
  const context: PlanContext = {
    inventory: state.inventory,
    state,
    primary: oldSpec,
    target: targetSpec,
    // Its platform promotes it (docs/managed.md): the other replicas cannot follow; they are left to rebuild.
    ...(targetSpec.promote ? { managed: true } : {}),
    ...othersOf(state, [old.name, target.name]),
    targetObs: target,
    replication: clusterReplicationTemplate(state),
    fenceMethod,
    incident,
  };
  return { checks, context };
}

/** The silent node the routers send clients to, or (routers silent too) the one the replicas stream from. */
function formerPrimary(
  state: ClusterState,
  lastSeen: LastSeen | undefined,
): { node: UnreachableNode; evidence: string } | { problem: string } {
  const silent = (name: string | undefined) => {
    const node = name ? nodeState(state, name) : undefined;
    return node && !node.reachable ? node : undefined;
  };
  const routed = [
    ...new Set(state.poolers.flatMap((p) => (p.reachable ? p.routes.map((r) => nodeAt(state, r.host, r.port)) : []))),
  ];
  const upstreams = [
    ...new Set(
      replicasOf(state)
        .map(upstreamOf(state))
        .filter((n): n is string => n !== undefined),
    ),
  ];
  const candidates: Array<[string | undefined, string]> = [
    ...(routed.length === 1 ? [[routed[0], 'the poolers send clients to it'] as [string | undefined, string]] : []),
    ...(upstreams.length === 1 ? [[upstreams[0], 'the replicas stream from it'] as [string | undefined, string]] : []),
    [lastSeen?.primary, `the last observation of the cluster (${lastSeen?.at}) saw it as the primary`],
  ];
  for (const [name, evidence] of candidates) {
    const node = silent(name);
    if (node) {
      if (node.silence === 'auth')
        return {
          problem: `${node.name} answers but refuses the tool's login (${node.error}): it is not down; fix the login`,
        };
      if (node.silence === 'other')
        return {
          problem: `${node.name} did not answer, for a reason that does not show it down or hung (${node.error})`,
        };
      return { node, evidence };
    }
  }
  const where =
    routed.length > 1
      ? `the poolers disagree (${routed.map((n) => n ?? 'unknown').join(', ')})`
      : `the poolers send clients to ${routed[0] ?? 'no known node'}`;
  return {
    problem: `cannot tell which node was the primary: none answers as one, ${where}, and no silent node is the replicas' upstream`,
  };
}

/** The node a replica streams from now, or (not streaming) the one its primary_conninfo names. */
const upstreamOf =
  (state: ClusterState) =>
  (replica: NodeObservation): string | undefined => {
    const receiver = replica.walReceiver;
    if (receiver?.senderHost) return nodeAt(state, receiver.senderHost, receiver.senderPort);
    try {
      const info = parseConninfo(replica.settings.primary_conninfo ?? '');
      return nodeAt(state, info.host, info.port === undefined ? 5432 : Number(info.port));
    } catch {
      return undefined;
    }
  };

function toolView(old: UnreachableNode, timeoutMs: number): { check: Check } {
  const said =
    old.silence === 'timeout'
      ? `${old.name} did not answer within ${formatMs(timeoutMs)}: hung (${old.error})`
      : old.silence === 'refused'
        ? `${old.name} refuses connections: down (${old.error})`
        : `${old.name} cannot be reached: ${old.error}`;
  return { check: pass('primary-down', `the tool's view: ${said}`) };
}

/**
 * Failure is confirmed by witnesses that can see the old primary, never by the tool's silence
 * alone ("unreachable from here" is not "down"). The rule, in order:
 * 1. any witness that reaches it refuses the failover: the tool is the one cut off;
 * 2. else at least one must have tried and failed: a pooler whose own login to it got no
 *    answer, a host whose pg_isready got none, a replica whose WAL receiver lost it or heard
 *    nothing for longer than the primary can stay quiet (a replica pings its primary after half
 *    its wal_receiver_timeout, and a live one answers at once);
 * 3. else refused: nobody confirms.
 * A replica that heard nothing for less than that bound says nothing: an idle primary sends
 * nothing to its standbys between their pings.
 */
function witnessView(state: ClusterState, old: string, timeoutMs: number): { checks: Check[]; names: string[] } {
  const replicas = replicaWitnesses(state, old, timeoutMs);
  const others = state.witnesses?.suspect === old ? state.witnesses.answers : [];
  const all = [...others, ...replicas];
  const said = (answers: readonly WitnessAnswer[]) => answers.map((a) => `${a.witness}: ${a.detail}`).join('; ');
  const reach = all.filter((a) => a.verdict === 'reaches');
  const confirm = all.filter((a) => a.verdict === 'cannot-reach');
  const unknown = all.filter((a) => a.verdict === 'unknown');
  const names = replicas.filter((a) => a.verdict === 'cannot-reach').map((a) => a.witness.replace(/^replica /, ''));
  if (reach.length) {
    return {
      names,
      checks: [
        fail(
          'witnesses',
          `${old} is seen by its witnesses (${said(reach)}): the tool is the one cut off from it, not failing over`,
        ),
      ],
    };
  }
  if (!confirm.length) {
    return {
      names,
      checks: [
        fail(
          'witnesses',
          `no witness confirms ${old} is down, and the tool's view alone is not enough${unknown.length ? ` (${said(unknown)})` : ''}: give the poolers an app_dsn or the nodes host_access so they can be asked, or run again once the replicas have heard nothing for half their wal_receiver_timeout`,
        ),
      ],
    };
  }
  return {
    names,
    checks: [
      pass('witnesses', `confirmed by ${said(confirm)}${unknown.length ? `; not conclusive: ${said(unknown)}` : ''}`),
    ],
  };
}

/** Each replica that streamed from the old primary (or streams from nothing), read again after the tool's probe. */
function replicaWitnesses(state: ClusterState, old: string, timeoutMs: number): WitnessAnswer[] {
  const after = state.receiversAfter;
  const window = Math.min(timeoutMs, after?.sinceProbeMs ?? timeoutMs);
  return replicasOf(state)
    .filter((r) => upstreamOf(state)(r) === old || r.walReceiver === undefined)
    .map((replica): WitnessAnswer => {
      const witness = `replica ${replica.name}`;
      const view = after?.byNode[replica.name];
      const receiver = view ? view.receiver : replica.walReceiver;
      if (!receiver || receiver.status !== 'streaming')
        return {
          witness,
          kind: 'replica',
          verdict: 'cannot-reach',
          detail: receiver ? `its WAL receiver is ${receiver.status}` : 'no WAL receiver',
        };
      const age = receiver.lastMsgAgeMs;
      if (age === undefined || age < window - 25)
        return {
          witness,
          kind: 'replica',
          verdict: 'reaches',
          detail: `heard from it ${age === undefined ? 'recently' : `${Math.round(age)} ms ago`}`,
        };
      const bound = quietBoundMs(replica);
      if (bound !== undefined && age > bound)
        return {
          witness,
          kind: 'replica',
          verdict: 'cannot-reach',
          detail: `nothing heard for ${Math.round(age)} ms, past the ${formatMs(bound)} in which a live primary answers its ping`,
        };
      return {
        witness,
        kind: 'replica',
        verdict: 'unknown',
        detail: `still connected, nothing heard for ${Math.round(age)} ms${bound === undefined ? ' (wal_receiver_timeout is off: no bound)' : `, within the ${formatMs(bound)} an idle primary may stay quiet`}`,
      };
    });
}

/** Half the replica's wal_receiver_timeout (when it pings), plus a second for the answer; undefined when it never pings. */
export function quietBoundMs(replica: NodeObservation): number | undefined {
  const timeout = Number(replica.settings.wal_receiver_timeout ?? 60000);
  return Number.isFinite(timeout) && timeout > 0 ? timeout / 2 + 1000 : undefined;
}

/** Routers must be reachable (they are the fence); they are expected to send clients to the old primary. */
function routerView(state: ClusterState, old: string, routerChecks: RouterChecks, pauseBudgetMs: number): Check[] {
  return state.poolers
    .flatMap((router) =>
      routerChecks(router, { state, primary: undefined, pauseBudgetMs }).flatMap((check) => {
        if (check.id === 'pooler-points-at-primary') {
          const routes = router.reachable ? router.routes.filter((r) => nodeAt(state, r.host, r.port) !== old) : [];
          return routes.length
            ? [
                warn(
                  check.id,
                  `pooler ${router.name} sends ${routes.map((r) => r.name).join(', ')} elsewhere than ${old}; repointed to the new primary with the rest`,
                ),
              ]
            : [];
        }
        if (check.id === 'pooler-not-paused')
          return [warn(check.id, `${check.message.split(' (')[0]}; the failover holds and resumes it`)];
        return [check];
      }),
    )
    .concat(
      state.poolers.some((p) => p.reachable)
        ? [pass('pooler-fence', `the poolers stop sending clients to ${old} before anything else`)]
        : [],
    );
}

const receivedOf = (state: ClusterState, replica: NodeObservation): Lsn | undefined =>
  maxLsn(state.receiversAfter?.byNode[replica.name]?.receiveLsn, replica.receiveLsn, replica.replayLsn);

/**
 * The most advanced replica: highest received position; ties: a synchronous standby, then the
 * inventory's priority (higher first), then the least replay lag, then the name. Replicas whose
 * replay is paused or delayed, or with priority 0, are not candidates unless named.
 */
function chooseCandidate(
  state: ClusterState,
  old: string,
  named: string | undefined,
  lastSeen: LastSeen | undefined,
): { node?: NodeObservation; check: Check } {
  const replicas = replicasOf(state);
  const timeline = Math.max(...replicas.map((r) => r.timeline ?? 0));
  const spec = (name: string) => state.inventory.nodes.find((n) => n.name === name)!;
  const unfit = (r: NodeObservation): string | undefined => {
    if (r.replayPaused) return 'its WAL replay is paused';
    if ((r.settings.recovery_min_apply_delay ?? '0') !== '0')
      return 'it replays with a delay (recovery_min_apply_delay)';
    if ((r.timeline ?? 0) < timeline) return `it is on timeline ${r.timeline}, behind ${timeline}`;
    return undefined;
  };
  if (named) {
    const node = nodeState(state, named);
    if (!node?.reachable) return { check: fail('target', `--target ${named}: it does not answer`) };
    if (!node.inRecovery) return { check: fail('target', `--target ${named}: it is not a replica`) };
    // A paused replica, named: its replay is resumed before it is waited for (fence-old-primary).
    const why = node.replayPaused ? undefined : unfit(node);
    const resumed = node.replayPaused ? '; its paused replay is resumed first' : '';
    return why
      ? { check: fail('target', `--target ${named}: ${why}`) }
      : {
          node,
          check: pass(
            'target',
            `${named} chosen as the new primary (named), received up to ${formatLsn(receivedOf(state, node))}${resumed}`,
          ),
        };
  }
  const sync = new Set(lastSeen?.primary === old ? lastSeen.syncStandbys : []);
  const fit = replicas.filter((r) => !unfit(r) && spec(r.name).priority !== 0);
  if (!fit.length) {
    const why = replicas.map((r) => `${r.name}: ${unfit(r) ?? 'priority 0'}`).join('; ');
    return { check: fail('target', `no replica can be promoted${why ? ` (${why})` : ' (none answers)'}`) };
  }
  const key = (r: NodeObservation) => receivedOf(state, r) ?? 0n;
  const lag = (r: NodeObservation) => key(r) - (r.replayLsn ?? 0n);
  const ranked = [...fit].sort((a, b) =>
    key(b) > key(a)
      ? 1
      : key(b) < key(a)
        ? -1
        : Number(sync.has(b.name)) - Number(sync.has(a.name)) ||
          (spec(b.name).priority ?? 1) - (spec(a.name).priority ?? 1) ||
          (lag(a) < lag(b) ? -1 : lag(a) > lag(b) ? 1 : 0) ||
          a.name.localeCompare(b.name),
  );
  const best = ranked[0]!;
  const others = ranked.slice(1).map((r) => `${r.name} ${formatLsn(key(r))}`);
  return {
    node: best,
    check: pass(
      'target',
      `${best.name} chosen as the new primary: the most advanced replica (received ${formatLsn(key(best))}${others.length ? `; ${others.join(', ')}` : ''})`,
    ),
  };
}

/**
 * If the primary, up now, died now (`check`): the replica this failover would choose (its own
 * choice, not a copy) and whether it lacks more of what the primary flushed than the playbook's
 * loss limit.
 */
export function failoverIfDiedNow(
  state: ClusterState,
  playbook: Playbook,
  primary: string,
  lastSeen?: LastSeen,
): { target?: string; failed: string[] } {
  const { maxLossBytes } = detectionOf(playbook);
  const chosen = chooseCandidate(state, primary, undefined, lastSeen);
  if (!chosen.node) return { failed: [chosen.check.message] };
  const old = nodeState(state, primary);
  const flushed = old?.reachable ? (old.flushLsn ?? 0n) : 0n;
  const behind = flushed - (receivedOf(state, chosen.node) ?? 0n);
  const missing = behind > 0n ? behind : 0n;
  const failed =
    missing > BigInt(maxLossBytes)
      ? [
          `the most advanced replica ${chosen.node.name} lacks ${missing} bytes of what ${primary} flushed, over max_data_loss_bytes ${maxLossBytes}`,
        ]
      : [];
  return { target: chosen.node.name, failed };
}

export function estimateLoss(
  state: ClusterState,
  target: NodeObservation,
  old: string,
  lastSeen: LastSeen | undefined,
): LossEstimate {
  const candidateLsn = receivedOf(state, target) ?? 0n;
  const positions: Array<[Lsn | undefined, string]> = [
    ...replicasOf(state).map((r): [Lsn | undefined, string] => [receivedOf(state, r), `${r.name} received it`]),
  ];
  const seen =
    lastSeen?.primary === old && lastSeen.timeline === target.timeline ? parseLsn(lastSeen.flushLsn) : undefined;
  if (seen !== undefined) positions.push([seen, `${old} had flushed it when last seen, ${lastSeen!.at}`]);
  const [most, from] = positions.reduce<[Lsn, string]>(
    (best, [lsn, where]) => (lsn !== undefined && lsn > best[0] ? [lsn, where] : best),
    [candidateLsn, 'no one is known to be ahead of the candidate'],
  );
  // Every acknowledged commit reached the synchronous standbys; a candidate that received at least as much as one of them has them all.
  const covering = syncStandbysOf(lastSeen, old).find((name) => covers(state, target, name));
  return {
    candidateLsn,
    knownBytes: most - candidateLsn,
    knownFrom: most === candidateLsn ? `no position known is ahead of ${target.name}` : `${formatLsn(most)}: ${from}`,
    beyond: covering
      ? {
          kind: 'none',
          why:
            covering === target.name
              ? `${target.name} was a synchronous standby of ${old} (last seen ${lastSeen!.at}): every acknowledged commit reached it`
              : `${target.name} received at least as much as ${covering}, a synchronous standby of ${old} (last seen ${lastSeen!.at}), which every acknowledged commit reached`,
        }
      : {
          kind: 'unknown',
          why: `WAL ${old} wrote that no replica received; ${lastSeen?.primary === old ? 'it had no synchronous standby when last seen' : 'no earlier observation of it is recorded'}`,
        },
  };
}

function lossCheck(loss: LossEstimate, maxBytes: number, accepted: boolean | undefined): Check {
  const line = `${loss.knownBytes} bytes known (${loss.knownFrom}); beyond that: ${loss.beyond.kind} (${loss.beyond.why})`;
  if (loss.knownBytes > BigInt(maxBytes)) {
    return accepted
      ? warn(
          'data-loss',
          `possible loss over max_data_loss_bytes ${maxBytes}, accepted with --accept-data-loss: ${line}`,
        )
      : fail(
          'data-loss',
          `possible loss over max_data_loss_bytes ${maxBytes}: ${line}; run with --accept-data-loss to fail over anyway`,
        );
  }
  return loss.beyond.kind === 'unknown'
    ? warn('data-loss', `possible loss: ${line}`)
    : pass('data-loss', `possible loss: ${line}`);
}

/** A synchronous standby holds every acknowledged commit: promote it, or one at least as advanced. */
function syncCheck(
  state: ClusterState,
  target: NodeObservation,
  old: string,
  lastSeen: LastSeen | undefined,
  accepted: boolean | undefined,
): Check[] {
  const sync = syncStandbysOf(lastSeen, old);
  if (!sync.length || sync.includes(target.name)) return [];
  const behind = sync.filter((name) => !covers(state, target, name));
  if (!behind.length)
    return [
      pass(
        'sync-standby',
        `${target.name} has received at least as much as the synchronous standby ${sync.join(', ')}`,
      ),
    ];
  const message = `the synchronous standby ${behind.join(', ')} is not the candidate and ${target.name} may lack acknowledged commits it holds (unreachable, or ahead of ${target.name})`;
  return [
    accepted
      ? warn('sync-standby', `${message}; accepted with --accept-data-loss`)
      : fail('sync-standby', `${message}; run with --accept-data-loss to fail over anyway`),
  ];
}

/** The old primary's synchronous standbys, as last seen (none if the record is of another primary). */
const syncStandbysOf = (lastSeen: LastSeen | undefined, old: string): readonly string[] =>
  lastSeen?.primary === old ? lastSeen.syncStandbys : [];

/**
 * Whether `target` has every acknowledged commit synchronous standby `name` has: it is that
 * standby, or it received at least as much as it (WAL is one stream). Unknown (unreachable): no.
 */
function covers(state: ClusterState, target: NodeObservation, name: string): boolean {
  if (name === target.name) return true;
  const node = nodeState(state, name);
  return node?.reachable === true && (receivedOf(state, node) ?? 0n) <= (receivedOf(state, target) ?? 0n);
}
