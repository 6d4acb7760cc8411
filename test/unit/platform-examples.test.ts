/**
 * The managed platforms' example inventories (examples/platforms/) load as they are, and each
 * names what a managed estate needs: no host access on any node, a promotion or the platform's
 * own switchover on each, the application's roles for the role fence.
 */
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';

const DIR = 'examples/platforms';

describe('examples/platforms', () => {
  it.each(readdirSync(DIR).filter((f) => f.endsWith('.yaml')))('%s loads and names a managed estate', async (file) => {
    const copy = mkdtempSync(join(tmpdir(), 'pgh-platform-'));
    copyFileSync(join(DIR, file), join(copy, file));
    writeFileSync(join(copy, 'pgpass'), '', { mode: 0o600 });
    const inventory = await loadInventory(join(copy, file));
    expect(inventory.appRoles?.length).toBeGreaterThan(0);
    for (const node of inventory.nodes) {
      expect(node.hostAccess).toBeUndefined();
      expect(node.conn.user).not.toMatch(/^postgres$/);
      expect(node.promote ?? node.switchover).toBeDefined();
    }
  });
});
