/**
 * Every node its own host: the container backend (one Docker container per PostgreSQL node and
 * per PgBouncer, `docker exec` as host_access, the pooler's config file inside its container),
 * under a write load through PgBouncer, with real network faults: a link cut with
 * `docker network disconnect`. Without a Docker engine these tests are skipped, and say why.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../../src/inventory/load.js';
import { engineStatus } from '../../src/sandbox/containers/engine.js';
import { cutLink, hostRunning, onHost, restoreLink } from '../../src/sandbox/containers/faults.js';
import { sandboxDown } from '../../src/sandbox/down.js';
import { sandboxUp } from '../../src/sandbox/up.js';
import { createLoadTable, longestGap, missingAcknowledged, WriteLoad } from '../../src/sandbox/write-load.js';
import { sleep } from '../../src/util/time.js';
import { cli, reportOf } from './support/cli.js';
import {
  appConn,
  nodeConn,
  observe,
  settledTopology,
  sql,
  topology,
  underLoad,
  waitUntilStreaming,
} from './support/cluster.js';
import { describe, expect, test as base, type SandboxFixture } from './support/fixtures.js';

const engine = await engineStatus();
if (!engine.ok) console.warn(`container tests skipped: ${engine.reason}`);

const test = base.extend<{ hosts: SandboxFixture }>({
  // eslint-disable-next-line no-empty-pattern
  hosts: async ({}, use) => {
    const parent = await mkdtemp(join(tmpdir(), 'pgh-containers-'));
    await chmod(parent, 0o711);
    const dir = join(parent, 'sb');
    try {
      const { manifest } = await sandboxUp({ dir, backend: 'containers', replicas: 2 });
      await use({ manifest, inventory: await loadInventory(manifest.inventoryFile), dir });
    } finally {
      await sandboxDown(dir).catch(() => undefined);
      await rm(parent, { recursive: true, force: true });
    }
  },
});

const promote = (sandbox: SandboxFixture, ...more: string[]) =>
  cli(['promote', '-i', sandbox.manifest.inventoryFile, '--yes', '--json', ...more]);
/** Which server a pooled client lands on, by its cluster_name (every container listens on 5432). */
const landsOn = async (sandbox: SandboxFixture): Promise<string> =>
  String((await sql(appConn(sandbox), "SELECT current_setting('cluster_name') AS node"))[0]!.node);
/** A write load through PgBouncer that has been running for a moment (its records decide what was lost). */
async function startLoad(sandbox: SandboxFixture, table: string): Promise<WriteLoad> {
  await createLoadTable(appConn(sandbox), table);
  const load = new WriteLoad({ conn: appConn(sandbox), clients: 6, rate: 300, table });
  load.start();
  await sleep(600);
  return load;
}
const poolerIni = (sandbox: SandboxFixture): Promise<string> =>
  onHost(sandbox.manifest, 'pgbouncer', ['cat', sandbox.manifest.poolers[0]!.configFile]);

// Without an engine the tests below are counted as skipped, the reason in their name and above.
describe.skipIf(!engine.ok)(
  `container backend${engine.ok ? ` (Docker ${engine.version})` : ` — skipped: ${engine.ok ? '' : engine.reason}`}`,
  () => {
    test('switchover under write load: 0 errors, 0 lost, the old primary rejoined, the config changed inside the pooler container', async ({
      hosts,
    }) => {
      const configFile = hosts.manifest.poolers[0]!.configFile;
      expect(existsSync(configFile)).toBe(false); // only on the pooler's host
      expect(await poolerIni(hosts)).toMatch(/^appdb = host=pg1 port=5432 /m);

      const { value: result, load } = await underLoad(hosts, () => promote(hosts, '--target', 'pg2'), { clients: 8 });
      expect(result.exitCode, result.stderr).toBe(0);
      const report = reportOf(result);
      expect(report.outcome).toBe('succeeded');
      expect(load.acknowledged).toBeGreaterThan(100);
      expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });

      expect(await poolerIni(hosts)).toMatch(/^appdb = host=pg2 port=5432 /m);
      const after = await settledTopology(hosts);
      expect(after.primaries).toEqual(['pg2']);
      expect(after.poolerPointsAt).toBe('pg2');
      expect(after.upstreamOf).toEqual({ pg1: 'pg2', pg3: 'pg2' });
      expect(await landsOn(hosts)).toBe('pg2');
      console.log(
        `containers: switchover write pause ${report.writePauseMs} ms, longest client gap ${Math.round(longestGap(load.records).gapMs)} ms`,
      );
    });

    test('the target partitioned from the primary before catch-up: rolled back (exit 4), the old primary serves again', async ({
      hosts,
    }) => {
      const { clusterNetwork } = hosts.manifest.containers!;
      const target = hosts.manifest.nodes[1]!;
      const playbook = join(hosts.dir, 'partition.yaml');
      // The link is cut right before the fence: the old primary's final WAL cannot reach the target.
      await writeFile(
        playbook,
        `name: partition-before-catchup
steps:
  - kind: preflight
  - kind: checkpoint
  - kind: check-lag
  - kind: exec
    name: cut ${target.name} from its peers
    command: [docker, network, disconnect, --force, ${clusterNetwork}, ${target.container!.name}]
  - kind: fence-writes
  - kind: wait-catchup
    timeout: 3s
  - kind: promote
  - kind: repoint-pooler
  - kind: resume
  - kind: follow
  - kind: demote-old-primary
  - kind: verify
`,
      );
      try {
        const { value: result, load } = await underLoad(hosts, () =>
          promote(hosts, '--target', 'pg2', '--playbook', playbook),
        );
        expect(result.exitCode, result.stderr).toBe(4);
        const report = reportOf(result);
        expect(report.outcome).toBe('rolled-back');
        expect(report.error).toMatch(/pg2 replaying up to .* did not happen within 3000 ms/);
        // The fence ends at the shutdown checkpoint, not when the walsender gives up on the partitioned target.
        expect(report.writePauseMs).toBeLessThan(10_000);
        expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });
        const t = topology(await observe(hosts));
        expect(t.primaries).toEqual(['pg1']);
        expect(t.poolerPointsAt).toBe('pg1');
        expect(t.poolerPaused).toBe(false);
        expect(await landsOn(hosts)).toBe('pg1');
      } finally {
        await restoreLink(hosts.manifest, 'pg2', 'peers');
      }
      await waitUntilStreaming(hosts, 'pg2', 'pg1');
    });

    test('refusals: the old primary unable to stream from the target after the switchover (its passfile missing on its host); the tool cut off from the primary (its peers still reach it); clients unaffected', async ({
      hosts,
    }) => {
      // Knowable at the start: after the switchover pg1 would stream with the replicas' conninfo.
      await onHost(hosts.manifest, 'pg1', ['mv', '/var/lib/postgresql/.pgpass', '/var/lib/postgresql/.pgpass.away']);
      const dry = await cli(['promote', '-i', hosts.manifest.inventoryFile, '--dry-run']);
      expect(dry.exitCode).toBe(3);
      // Proven by doing it: a replication connection from pg1's host with the conninfo it will stream with.
      expect(dry.stdout).toMatch(
        /host-access +pg1: a replication connection to pg\d with the primary_conninfo pg1 will stream with after the switchover \(the replicas', pointed there\), via docker exec .* failed .*(no password supplied|password authentication failed)/,
      );
      await onHost(hosts.manifest, 'pg1', ['mv', '/var/lib/postgresql/.pgpass.away', '/var/lib/postgresql/.pgpass']);

      const table = 'tool_cut';
      const load = await startLoad(hosts, table);
      await cutLink(hosts.manifest, 'pg1', 'tool');
      try {
        const result = await promote(hosts, '--target', 'pg2');
        expect(result.exitCode, result.stdout + result.stderr).toBe(3);
        console.log(
          `containers: tool cut off from pg1: ${result.stderr
            .split('\n')
            .filter((l) => /pg1/.test(l))
            .slice(0, 2)
            .join(' / ')}`,
        );
        expect(await landsOn(hosts)).toBe('pg1');
        const t = topology(await observe(hosts));
        expect(t.primaries).toEqual([]); // pg1 is out of the tool's sight, and no replica was promoted
        expect(t.poolerPointsAt).toBe('pg1');
        expect(t.poolerPaused).toBe(false);
      } finally {
        await restoreLink(hosts.manifest, 'pg1', 'tool');
      }
      await sleep(500);
      const outcome = await load.stop();
      expect(topology(await observe(hosts)).primaries).toEqual(['pg1']);
      expect(outcome.acknowledged).toBeGreaterThan(100);
      expect(outcome.errors).toBe(0);
      expect(await missingAcknowledged(nodeConn(hosts, 'pg1'), outcome.records, table)).toBe(0);
    });

    test('failover: the primary partitioned away (alive), fenced by a fence_command that stops its container; back on the network it gets no client', async ({
      hosts,
    }) => {
      const table = 'partitioned';
      const load = await startLoad(hosts, table);
      await cutLink(hosts.manifest, 'pg1', 'peers');
      await cutLink(hosts.manifest, 'pg1', 'tool');
      expect(await hostRunning(hosts.manifest, 'pg1')).toBe(true); // partitioned, not dead
      const result = await cli(['failover', '-i', hosts.manifest.inventoryFile, '--yes', '--json']);
      await sleep(700);
      const outcome = await load.stop();
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
      const report = reportOf(result);
      const primary = report.primaryNow as string;
      expect(['pg2', 'pg3']).toContain(primary);
      expect(report.outcome).toBe('succeeded');
      expect(await hostRunning(hosts.manifest, 'pg1')).toBe(false); // its fence_command: docker kill

      await restoreLink(hosts.manifest, 'pg1', 'peers');
      await restoreLink(hosts.manifest, 'pg1', 'tool');
      await sleep(500);
      const lands = await Promise.all(Array.from({ length: 10 }, () => landsOn(hosts)));
      expect(new Set(lands)).toEqual(new Set([primary]));
      expect(await poolerIni(hosts)).toMatch(new RegExp(`^appdb = host=${primary} port=5432 `, 'm'));
      const t = topology(await observe(hosts));
      expect(t.primaries).toEqual([primary]);
      expect(t.poolerPointsAt).toBe(primary);
      // What clients lost is at most what the report said might be: commits the candidate never received.
      const lost = await missingAcknowledged(nodeConn(hosts, primary), outcome.records, table);
      console.log(
        `containers: failover of a partitioned primary in ${report.totalMs} ms, ${outcome.errors} client errors, ${lost} acknowledged commits lost (estimate: ${JSON.stringify(report.possibleLoss)})`,
      );
      expect(outcome.acknowledged).toBeGreaterThan(100);
    });
  },
);
