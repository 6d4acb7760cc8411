/**
 * Preflight: every read-only check of a planned switchover, as a pure function of one
 * ClusterState. It returns all checks, passing and failing, each with its id and observation.
 */
import { forManagedEstate } from './managed.js';
import { fencedPrimariesOf, primariesOf, reachableNodes, type ClusterState } from '../model/cluster-state.js';
import type { RouterState } from '../model/router.js';
import { lsnDiff } from '../model/lsn.js';
import { isAutoConf, majorOf, versionText, type NodeObservation } from '../model/node.js';
import { formatMs } from '../util/time.js';
import { fail, pass, warn, type Check } from './checks.js';
import { replayLag } from './lag.js';
import type { PreflightLimits } from './limits.js';
import { notWaitedFor, streamsFrom } from './target.js';

export interface PreflightInput {
  readonly state: ClusterState;
  readonly limits: PreflightLimits;
  readonly primary: NodeObservation | undefined;
  readonly target: NodeObservation | undefined;
  readonly targetName: string | undefined;
  /** Each router kind's own checks (src/routers/<kind>/), passed in so this stays pure. */
  readonly routerChecks: RouterChecks;
}

export type RouterChecks = (
  router: RouterState,
  input: { state: ClusterState; primary: NodeObservation | undefined; pauseBudgetMs: number },
) => Check[];

export function preflight(input: PreflightInput): Check[] {
  const checks = allChecks(input);
  const { state, primary, target } = input;
  const spec = target && state.inventory.nodes.find((n) => n.name === target.name);
  const managed = spec?.promote ?? spec?.switchover;
  return managed && primary && target ? checks.map((c) => forManagedEstate(c, primary, target)) : checks;
}

function allChecks(input: PreflightInput): Check[] {
  const { state, primary, target } = input;
  const checks: Check[] = [...reachability(state, input), ...primaryChecks(state)];
  if (primary && target) {
    checks.push(...pairChecks(state, primary, target, input.limits));
    checks.push(...blockerChecks(primary, input.limits));
    checks.push(...siblingChecks(state, primary, target));
  } else if (primary && !target) {
    checks.push(
      fail(
        'target-is-replica',
        input.targetName
          ? `${input.targetName} cannot be promoted: it is not a reachable replica`
          : `no replica streams from ${primary.name}, so there is nothing to promote`,
      ),
    );
  }
  checks.push(
    ...state.poolers.flatMap((router) =>
      input.routerChecks(router, { state, primary, pauseBudgetMs: input.limits.pauseBudgetMs }),
    ),
  );
  checks.push(...hostAccessChecks(state, primary, target));
  checks.push(...binariesChecks(state));
  checks.push(...syncOverrideChecks(state));
  checks.push(
    state.lockHolder
      ? fail(
          'no-other-run',
          `another pg-handover run holds the cluster lock: "${state.lockHolder.applicationName}" (backend pid ${state.lockHolder.pid}, since ${state.lockHolder.since})`,
        )
      : pass('no-other-run', 'no other pg-handover run holds the cluster lock'),
  );
  return checks;
}

/**
 * Binaries on disk newer than the running server (packages upgraded under it): a warning that
 * names the nodes to restart. A replica left so can fail on every reconnect (a new libpqwalreceiver
 * loaded by an old server), so it is said before any run, and by `check`.
 */
export function binariesChecks(state: ClusterState): Check[] {
  const seen = reachableNodes(state).flatMap((node) => {
    const disk = state.binaries?.[node.name];
    return disk?.versionNum ? [{ node, disk: disk as typeof disk & { versionNum: number } }] : [];
  });
  if (seen.length === 0) return [];
  const patched = seen
    .filter(({ node, disk }) => disk.versionNum === node.versionNum && disk.deleted?.length)
    .map(({ node, disk }) =>
      warn(
        'binaries',
        `${node.name} runs files deleted since it started (${disk.deleted!.join(', ')}): a library or binary was patched under it; it needs a restart (pg-handover rolling-restart)`,
      ),
    );
  // Only binaries newer than the server need its restart; older ones (an inventory's bin_dir left
  // behind after a restart on --bin-dir) are said once, not as "needs a restart".
  const behind = seen
    .filter(({ node, disk }) => disk.versionNum < node.versionNum)
    .map(({ node, disk }) =>
      pass(
        'binaries',
        `${node.name} runs ${versionText(node.versionNum)}, newer than the binaries in ${disk.dir} (${disk.version}): no restart needed; point its bin_dir at the binaries it runs`,
      ),
    );
  const stale = seen.filter(({ node, disk }) => disk.versionNum > node.versionNum);
  patched.push(...behind);
  if (stale.length === 0 && patched.length) return patched;
  if (stale.length === 0)
    return [
      pass(
        'binaries',
        `every node runs the version of its binaries (${[...new Set(seen.map((s) => s.disk.version))].join(', ')})`,
      ),
    ];
  return [
    ...patched,
    ...stale.map(({ node, disk }) =>
      warn(
        'binaries',
        `${node.name} runs ${versionText(node.versionNum)}, but its binaries in ${disk.dir} are ${disk.version}: it needs a restart (pg-handover rolling-restart)${majorOf(disk.versionNum) !== majorOf(node.versionNum) ? '; another major version: that is an upgrade, not a restart' : ''}`,
      ),
    ),
  ];
}

/**
 * A primary whose postgresql.auto.conf (ALTER SYSTEM, e.g. a failover's clearing) overrides the
 * synchronous_standby_names the operator wrote in its config file: a warning that says which
 * value is in force and how to give the operator's back.
 */
export function syncOverrideChecks(state: ClusterState): Check[] {
  return primariesOf(state).flatMap((node) => {
    const files = node.syncNamesInFiles ?? [];
    const auto = files.find((f) => isAutoConf(f.file) && f.applied);
    const own = files.filter((f) => !isAutoConf(f.file)).at(-1);
    if (!auto || !own || own.value === auto.value) return [];
    return [
      warn(
        'synchronous-standby-names-override',
        `${node.name}: postgresql.auto.conf sets synchronous_standby_names = '${auto.value}', overriding '${own.value}' in ${own.file}; to give the operator's back: ALTER SYSTEM RESET synchronous_standby_names; SELECT pg_reload_conf()`,
      ),
    ];
  });
}

function reachability(state: ClusterState, input: PreflightInput): Check[] {
  const down = state.nodes.filter((n) => !n.reachable);
  if (down.length === 0) return [pass('nodes-reachable', `all ${state.nodes.length} nodes answered`)];
  return down.map((node) => {
    const critical = node.name === input.targetName || !input.primary || node.name === input.primary.name;
    const reason = node.reachable ? '' : node.error;
    return critical
      ? fail('nodes-reachable', `${node.name} is unreachable: ${reason}`)
      : warn('nodes-reachable', `${node.name} is unreachable and will not be repointed: ${reason}`);
  });
}

function primaryChecks(state: ClusterState): Check[] {
  const primaries = primariesOf(state);
  const fenced = fencedPrimariesOf(state).map((n) =>
    warn(
      'fenced-primaries',
      `${n.name} is a former primary fenced read-only, not a replica: it is left out; rejoin it with pg_rewind`,
    ),
  );
  if (primaries.length === 1)
    return [pass('one-primary', `${primaries[0]!.name} is the only writable primary`), ...fenced];
  if (primaries.length === 0) {
    // A node that did not answer (down, or a TLS or login problem) may be the primary: never advise a failover then.
    const silent = state.nodes.filter((n) => !n.reachable).map((n) => n.name);
    return [
      fail(
        'one-primary',
        silent.length
          ? `no reachable node is a primary, and ${silent.join(', ')} did not answer (see nodes-reachable): fix that first; if the primary is really down, that is a failover, not a planned switchover`
          : 'no reachable node is a primary (use the failover procedure, not a planned switchover)',
      ),
    ];
  }
  return [
    fail(
      'one-primary',
      `${primaries.length} nodes are primaries (${primaries.map((p) => p.name).join(', ')}): split brain, fix it first`,
    ),
  ];
}

function pairChecks(
  state: ClusterState,
  primary: NodeObservation,
  target: NodeObservation,
  limits: PreflightLimits,
): Check[] {
  const checks: Check[] = [];
  checks.push(
    target.inRecovery
      ? pass('target-is-replica', `${target.name} is a replica`)
      : fail('target-is-replica', `${target.name} is not in recovery: it is a primary, not a replica`),
  );
  checks.push(
    target.systemIdentifier === primary.systemIdentifier
      ? pass(
          'same-system-identifier',
          `${target.name} and ${primary.name} are the same cluster`,
          target.systemIdentifier,
        )
      : fail(
          'same-system-identifier',
          `${target.name} belongs to another cluster (system identifier ${target.systemIdentifier}, primary has ${primary.systemIdentifier})`,
        ),
  );
  checks.push(
    majorOf(target.versionNum) === majorOf(primary.versionNum)
      ? pass('same-major-version', `both run PostgreSQL ${majorOf(primary.versionNum)}`)
      : fail(
          'same-major-version',
          `${target.name} runs PostgreSQL ${majorOf(target.versionNum)}, ${primary.name} runs ${majorOf(primary.versionNum)}`,
        ),
  );
  checks.push(
    target.timeline === primary.timeline
      ? pass('same-timeline', `both on timeline ${primary.timeline}`)
      : fail(
          'same-timeline',
          `${target.name} is on timeline ${target.timeline}, ${primary.name} on ${primary.timeline}`,
        ),
  );
  checks.push(
    streamsFrom(state, target, primary.name)
      ? pass('target-streams-from-primary', `${target.name} streams from ${primary.name}`)
      : fail(
          'target-streams-from-primary',
          `${target.name} does not stream from ${primary.name} (receiver: ${target.walReceiver ? `${target.walReceiver.status} from ${target.walReceiver.senderHost}:${target.walReceiver.senderPort}` : 'none'})`,
        ),
  );
  checks.push(
    target.replayPaused
      ? fail('replay-not-paused', `WAL replay is paused on ${target.name} (SELECT pg_wal_replay_resume())`)
      : pass('replay-not-paused', `replay is running on ${target.name}`),
  );
  const delay = target.settings.recovery_min_apply_delay ?? '0';
  if (delay !== '0') checks.push(fail('no-apply-delay', `${target.name} has recovery_min_apply_delay = ${delay}`));
  const lagBytes = lsnDiff(primary.flushLsn, target.replayLsn);
  checks.push(
    lagBytes !== undefined && lagBytes <= BigInt(limits.maxLagBytes)
      ? pass('lag-bytes', `${target.name} replay lag ${lagBytes} B (limit ${limits.maxLagBytes} B)`, Number(lagBytes))
      : fail(
          'lag-bytes',
          `${target.name} replay lag ${lagBytes ?? 'unknown'} B exceeds the limit of ${limits.maxLagBytes} B`,
          lagBytes === undefined ? undefined : Number(lagBytes),
        ),
  );
  const lag = replayLag(primary, target);
  const lagMs = lag.ms;
  const shown = Number.isFinite(lagMs) ? formatMs(lagMs) : 'unknown';
  checks.push(
    lagMs <= limits.maxLagSeconds * 1000
      ? pass(
          'lag-seconds',
          `${target.name} replay lag ${shown} (limit ${limits.maxLagSeconds} s; ${lag.source})`,
          Math.round(lagMs),
        )
      : fail(
          'lag-seconds',
          `${target.name} replay lag ${shown} exceeds the limit of ${limits.maxLagSeconds} s (${lag.source})`,
          Number.isFinite(lagMs) ? Math.round(lagMs) : undefined,
        ),
  );
  checks.push(...settingsChecks(primary, target));
  const lacking = [primary, target].filter((n) => n.missingPrivileges.length > 0);
  checks.push(
    lacking.length === 0
      ? pass(
          'privileges',
          primary.isSuperuser && target.isSuperuser
            ? 'connected as superuser on primary and target'
            : 'the inventory user has every privilege a run needs on primary and target (sql/least-privilege.sql)',
        )
      : fail('privileges', lacking.map((n) => `${n.name} lacks ${n.missingPrivileges.join(', ')}`).join('; ')),
  );
  return checks;
}

/** Settings a hot standby must have at least as high as its primary, or it will not start. */
const MUST_MATCH = [
  'max_connections',
  'max_worker_processes',
  'max_wal_senders',
  'max_prepared_transactions',
  'max_locks_per_transaction',
];

function settingsChecks(primary: NodeObservation, target: NodeObservation): Check[] {
  const low = MUST_MATCH.filter((name) => Number(target.settings[name] ?? 0) < Number(primary.settings[name] ?? 0));
  const checks = [
    low.length === 0
      ? pass('standby-settings', `${target.name} settings are at least the primary's (${MUST_MATCH.join(', ')})`)
      : fail(
          'standby-settings',
          `${target.name} has lower ${low.map((n) => `${n} (${target.settings[n]} < ${primary.settings[n]})`).join(', ')}; ${primary.name} could not follow it`,
        ),
  ];
  if (target.settings.hot_standby !== 'on') checks.push(fail('hot-standby', `${target.name} has hot_standby off`));
  if (target.settings.default_transaction_read_only === 'on') {
    checks.push(
      warn(
        'target-read-only',
        `${target.name} has default_transaction_read_only = on; it will be reset after promotion`,
      ),
    );
  }
  return checks;
}

function blockerChecks(primary: NodeObservation, limits: PreflightLimits): Check[] {
  const checks: Check[] = [];
  const long = primary.transactions.filter((t) => t.ageMs > limits.maxTransactionAgeMs);
  checks.push(
    long.length === 0
      ? pass(
          'no-long-transactions',
          `no transaction older than ${formatMs(limits.maxTransactionAgeMs)} on ${primary.name}`,
        )
      : fail(
          'no-long-transactions',
          `${long.length} transaction(s) older than ${formatMs(limits.maxTransactionAgeMs)} on ${primary.name} would stall the pause (oldest: pid ${long[0]!.pid}, ${formatMs(Math.max(...long.map((t) => t.ageMs)))}, ${long[0]!.state})`,
          long.length,
        ),
  );
  checks.push(
    primary.preparedXacts === 0
      ? pass('no-prepared-transactions', 'no prepared transactions')
      : fail(
          'no-prepared-transactions',
          `${primary.preparedXacts} prepared transaction(s) on ${primary.name}: COMMIT PREPARED or ROLLBACK PREPARED them first`,
          primary.preparedXacts,
        ),
  );
  const logical = primary.slots.filter((s) => s.type === 'logical');
  checks.push(
    logical.length === 0
      ? pass('no-logical-slots', 'no logical replication slots (they would not exist on the new primary)')
      : limits.allowLogicalSlots
        ? warn(
            'no-logical-slots',
            `logical slots ${logical.map((s) => s.name).join(', ')} will not exist on the new primary`,
          )
        : fail(
            'no-logical-slots',
            `logical slots ${logical.map((s) => s.name).join(', ')} would be lost by promotion (set allow_logical_slots to accept)`,
          ),
  );
  const lost = primary.slots.filter((s) => s.walStatus === 'lost');
  if (lost.length)
    checks.push(warn('lost-slots', `slots ${lost.map((s) => s.name).join(', ')} have lost required WAL`));
  const sync = primary.settings.synchronous_standby_names ?? '';
  checks.push(
    sync === ''
      ? pass('synchronous-standby-names', 'synchronous_standby_names is empty')
      : warn(
          'synchronous-standby-names',
          `synchronous_standby_names = '${sync}': cleared on the new primary inside the pause, then restored there (translated: the new primary's name becomes the old primary's) once its standbys stream (sync-standbys)`,
        ),
  );
  return checks;
}

function siblingChecks(state: ClusterState, primary: NodeObservation, target: NodeObservation): Check[] {
  return reachableNodes(state)
    .filter((n) => n.name !== primary.name && n.name !== target.name && n.inRecovery)
    .map((node) => {
      const reason = notWaitedFor(state, node, primary.name);
      return reason === undefined
        ? pass('other-replicas', `${node.name} streams from ${primary.name} and will follow ${target.name}`)
        : warn(
            'other-replicas',
            `${node.name} will be repointed to ${target.name} but not waited for (${reason}); reported as "to check"`,
          );
    });
}

function hostAccessChecks(
  state: ClusterState,
  primary: NodeObservation | undefined,
  target: NodeObservation | undefined,
): Check[] {
  const spec = primary && state.inventory.nodes.find((n) => n.name === primary.name);
  if (!spec || !primary) return [warn('host-access', 'no primary, host access not checked')];
  if (!spec.hostAccess)
    return [
      warn(
        'host-access',
        `${spec.name}: no host_access in the inventory, so it is fenced read-only (weaker) and stays fenced afterwards`,
      ),
    ];
  const probe = state.hosts?.find((h) => h.node === spec.name);
  const via = spec.hostAccess.kind === 'local' ? 'locally' : `via ${spec.hostAccess.command.join(' ')}`;
  // Proven by doing it: the old primary's host streams from the target with the conninfo it will get.
  const stream = target ? probe?.streams?.[target.name] : undefined;
  const problems = [...(probe?.problems ?? []), ...(stream ? [stream] : [])];
  const checks: Check[] = problems.length
    ? problems.map((problem) => fail('host-access', `${spec.name}: ${problem}`))
    : [
        pass(
          'host-access',
          `${spec.name}: commands run ${via} (postmaster.pid read, data directory writable, pg_ctl and pg_controldata run${target && probe?.streams && target.name in probe.streams ? `, a replication connection to ${target.name} made from there with the conninfo it will stream with` : ''}${spec.service ? ', service commands found' : ''}${probe?.discovered?.length ? `; discovered ${probe.discovered.join(', ')}` : ''}), so it is stopped cleanly and rejoins as a replica`,
        ),
      ];
  return checks;
}
