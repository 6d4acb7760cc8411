import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { binariesChecks } from '../../src/decide/preflight.js';
import { versionNumOf, versionText } from '../../src/model/node.js';
import type { ClusterState, NodeBinaries } from '../../src/model/cluster-state.js';
import { binariesOf } from '../../src/procedures/rolling-restart/decide.js';
import { rollingRestartRules } from '../../src/procedures/rolling-restart/rules.js';
import { buildPlaybook } from './support/switchover.js';
import { parseYamlText } from '../../src/util/yaml-source.js';
import { cluster, healthyCluster, primary, replica } from './support/cluster-fixtures.js';

/** The healthy fixture (every node runs 15.10), with what each host's binaries say. */
const withBinaries = (binaries: Record<string, NodeBinaries>): ClusterState => ({ ...healthyCluster(), binaries });
const at = (dir: string, versionNum: number, next?: NodeBinaries['next']): NodeBinaries => ({
  dir,
  versionNum,
  version: versionText(versionNum),
  ...(next ? { next } : {}),
});

describe('versions', () => {
  it('reads postgres --version as server_version_num counts it', () => {
    expect(versionNumOf('postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)')).toBe(150018);
    expect(versionNumOf('postgres (PostgreSQL) 17.2')).toBe(170002);
    expect(versionNumOf('postgres (PostgreSQL) 18beta1')).toBe(180000);
    expect(versionNumOf('something else')).toBeUndefined();
    expect(versionText(150018)).toBe('15.18');
  });
});

describe('binaries newer than the running server', () => {
  it('warns for each node to restart; passes when every node runs its binaries', () => {
    const stale = binariesChecks(withBinaries({ pg1: at('/b', 150010), pg2: at('/b', 150012), pg3: at('/b', 150010) }));
    expect(stale.map((c) => `${c.verdict} ${c.message}`)).toEqual([
      'warn pg2 runs 15.10, but its binaries in /b are 15.12: it needs a restart (pg-handover rolling-restart)',
    ]);
    expect(binariesChecks(withBinaries({ pg1: at('/b', 150010) }))[0]!.verdict).toBe('pass');
    expect(binariesChecks(healthyCluster())).toEqual([]);
  });
});

describe('rolling restart: what it restarts', () => {
  const next = (versionNum: number) => ({ dir: '/new', versionNum, version: versionText(versionNum) });
  it('every replica by name, then the primary after the switchover', () => {
    const { checks, rolling } = binariesOf(
      withBinaries({
        pg1: at('/old', 150010, next(150012)),
        pg2: at('/old', 150010, next(150012)),
        pg3: at('/old', 150010, next(150012)),
      }),
      '/new',
    );
    expect(rolling).toEqual({ binDir: '/new', versionNum: 150012, restart: ['pg2', 'pg3'] });
    expect(checks[0]!.message).toBe(
      '15.12 in /new on every node; to restart: pg2, pg3, pg1 (primary, after the switchover)',
    );
  });
  it('a rerun skips replicas already on the version; with the primary done, only the replicas (no switchover); nothing left: nothing to do (exit 0)', () => {
    const state = withBinaries({ pg1: at('/b', 150012), pg2: at('/b', 150012), pg3: at('/b', 150012) });
    const upgraded = {
      ...state,
      nodes: state.nodes.map((n) => (n.reachable && n.name === 'pg2' ? { ...n, versionNum: 150012 } : n)),
    };
    expect(binariesOf(upgraded, undefined).rolling).toMatchObject({ restart: ['pg3'] });
    expect(binariesOf(upgraded, undefined).rolling?.replicasOnly).toBeUndefined();
    const primaryDone = {
      ...state,
      nodes: state.nodes.map((n) => (n.reachable && n.name !== 'pg3' ? { ...n, versionNum: 150012 } : n)),
    };
    expect(binariesOf(primaryDone, undefined).rolling).toMatchObject({ restart: ['pg3'], replicasOnly: true });
    const done = { ...state, nodes: state.nodes.map((n) => (n.reachable ? { ...n, versionNum: 150012 } : n)) };
    expect(binariesOf(done, undefined).done).toBe('every node already runs 15.12');
    // --all (an OS patch): every server, the version unchanged.
    expect(binariesOf(done, undefined, true).rolling).toMatchObject({ restart: ['pg2', 'pg3'] });
    // A server mapping a deleted library needs a restart too.
    const patched = {
      ...done,
      binaries: { ...done.binaries!, pg3: { ...at('/b', 150012), deleted: ['/usr/lib/x86_64-linux-gnu/libssl.so.3'] } },
    };
    expect(binariesOf(patched, undefined).rolling).toMatchObject({ restart: ['pg3'], replicasOnly: true });
    // Binaries older than what runs: a downgrade, refused.
    const older = { ...done, binaries: { pg1: at('/b', 150011), pg2: at('/b', 150011), pg3: at('/b', 150011) } };
    expect(
      binariesOf(older, undefined)
        .checks.map((c) => c.message)
        .join('\n'),
    ).toMatch(
      /pg1 runs 15.12, pg2 runs 15.12, pg3 runs 15.12, newer than the binaries in its bin_dir \(15.11\): that would be a downgrade/,
    );
  });
  it('warns that commits wait while a synchronous standby restarts', () => {
    const peer = {
      pid: 1,
      applicationName: 'pg2',
      clientAddr: undefined,
      state: 'streaming',
      syncState: 'sync',
      flushLsn: 0x3000000n,
      replayLsn: 0x3000000n,
      replayLagMs: 0,
    };
    const p = primary('pg1', {
      replication: [peer],
      settings: { ...primary().settings, synchronous_standby_names: 'pg2' },
    });
    const state = {
      ...cluster([p, replica('pg2'), replica('pg3')]),
      binaries: { pg1: at('/b', 150012), pg2: at('/b', 150012), pg3: at('/b', 150012) },
    };
    expect(
      binariesOf(state, undefined)
        .checks.filter((c) => c.verdict === 'warn')
        .map((c) => c.message),
    ).toEqual([
      'pg2 is a synchronous standby: commits on the primary wait while it restarts, unless another standby confirms them',
    ]);
  });
  it('refuses binaries that differ between hosts, another major version, or a host it cannot ask', () => {
    expect(
      binariesOf(withBinaries({ pg1: at('/b', 150012), pg2: at('/b', 150011), pg3: at('/b', 150012) }), undefined)
        .checks[0]!.message,
    ).toMatch(/the binaries differ: pg1 15.12 in \/b, pg2 15.11 in \/b, pg3 15.12 in \/b/);
    expect(
      binariesOf(withBinaries({ pg1: at('/b', 160002), pg2: at('/b', 160002), pg3: at('/b', 160002) }), undefined)
        .checks[0]!.message,
    ).toMatch(/another major version is an upgrade/);
    expect(
      binariesOf(withBinaries({ pg1: at('/b', 150012), pg2: at('/b', 150012) }), undefined).checks[0]!.message,
    ).toBe('pg3: no host_access, so it cannot be restarted from here');
  });
});

describe('rolling restart playbook rules', () => {
  const load = (text: string) => buildPlaybook(parseYamlText(text, 'p.yaml', 'playbook'));
  it('the built-in playbook passes; restart-replicas after the fence does not', () => {
    const builtIn = readFileSync('playbooks/rolling-restart.yaml', 'utf8');
    expect(rollingRestartRules(load(builtIn))).toEqual([]);
    const late = builtIn
      .replace(/ {2}- kind: restart-replicas\n {4}timeout: 60s\n {4}max_lag_bytes: 16777216\n/, '')
      .replace('  - kind: wait-catchup\n', '  - kind: restart-replicas\n  - kind: wait-catchup\n');
    expect(rollingRestartRules(load(late)).map((p) => p.message)).toContain(
      'restart-replicas must come before fence-writes (the switchover goes to a replica already on the new binaries)',
    );
  });
});
