/**
 * Gives each integration test its own real sandbox cluster and always tears it down, even when
 * the test fails. Processes are stopped by PID (pid files), never by name.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test as base } from 'vitest';
import { loadInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { sandboxDown } from '../../../src/sandbox/down.js';
import type { SandboxManifest } from '../../../src/sandbox/manifest.js';
import { sandboxUp } from '../../../src/sandbox/up.js';

export interface SandboxFixture {
  readonly manifest: SandboxManifest;
  readonly inventory: Inventory;
  readonly dir: string;
}

export async function startSandbox(
  replicas = 2,
  poolers = 1,
  layout: 'plain' | 'debian' = 'plain',
  tls = false,
  pgBin?: string,
  router?: 'pgbouncer' | 'haproxy',
  upgradeTarget?: number,
  managed?: { promoteDelayMs: number },
): Promise<SandboxFixture> {
  const parent = await mkdtemp(join(tmpdir(), 'pgh-test-'));
  const dir = join(parent, 'sb');
  await chmod(parent, 0o711); // the servers run as another OS user and must reach `dir`
  try {
    const { manifest } = await sandboxUp({
      dir,
      replicas,
      poolers,
      layout,
      tls,
      pgBin,
      router,
      upgradeTarget,
      ...(managed ? { managed } : {}),
    });
    return { manifest, inventory: await loadInventory(manifest.inventoryFile), dir };
  } catch (error) {
    await sandboxDown(dir).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
    throw error;
  }
}

export async function stopSandbox(sandbox: SandboxFixture): Promise<void> {
  await sandboxDown(sandbox.dir).catch(() => undefined);
  await rm(join(sandbox.dir, '..'), { recursive: true, force: true });
}

export const test = base.extend<{ sandbox: SandboxFixture }>({
  // eslint-disable-next-line no-empty-pattern
  sandbox: async ({}, use) => {
    const sandbox = await startSandbox();
    try {
      await use(sandbox);
    } finally {
      await stopSandbox(sandbox);
    }
  },
});

export { expect, describe } from 'vitest';
