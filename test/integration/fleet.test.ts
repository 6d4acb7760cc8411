/**
 * A fleet's wave run side by side: four clusters, four switchovers at the same time, each under
 * its own write load through its own PgBouncer. Runs on different inventories do not interfere
 * (journals and lock files beside each inventory, one guardian each, free ports): all succeed,
 * 0 acknowledged commits lost, 0 client errors, and each journal names only its own cluster.
 */
import { readFileSync } from 'node:fs';
import { createLoadTable, missingAcknowledged, WriteLoad } from '../../src/sandbox/write-load.js';
import { sleep } from '../../src/util/time.js';
import { cli, reportOf } from './support/cli.js';
import { appConn, nodeConn } from './support/cluster.js';
import { describe, expect, startSandbox, stopSandbox, test, type SandboxFixture } from './support/fixtures.js';

describe('a wave of clusters', () => {
  test('four switchovers on four sandboxes at the same time: all succeed, 0 lost, 0 errors, journals apart', async () => {
    const sandboxes: SandboxFixture[] = [];
    try {
      for (let i = 0; i < 4; i++) sandboxes.push(await startSandbox(1));
      const loads = await Promise.all(sandboxes.map(async (sandbox, i) => {
        await createLoadTable(appConn(sandbox), `wave_${i}`);
        const load = new WriteLoad({ conn: appConn(sandbox), clients: 2, rate: 100, table: `wave_${i}` });
        load.start();
        return load;
      }));
      await sleep(500);
      const results = await Promise.all(sandboxes.map((sandbox) => cli(['switchover', '-i', sandbox.manifest.inventoryFile, '--yes', '--json', '-t', 'pg2'])));
      await sleep(500);
      const outcomes = await Promise.all(loads.map((load) => load.stop()));
      for (const [i, result] of results.entries()) {
        expect(result.exitCode, result.stderr).toBe(0);
        const report = reportOf(result);
        expect(report.primaryNow).toBe('pg2');
        expect(readFileSync(report.journal, 'utf8')).toContain(sandboxes[i]!.manifest.inventoryFile);
        for (const other of sandboxes.filter((_, j) => j !== i)) expect(readFileSync(report.journal, 'utf8')).not.toContain(other.manifest.inventoryFile);
        expect(outcomes[i]!.errors).toBe(0);
        expect(await missingAcknowledged(nodeConn(sandboxes[i]!, 'pg2'), outcomes[i]!.records, `wave_${i}`)).toBe(0);
      }
      process.stderr.write(`wave: 4 switchovers side by side, write pauses ${results.map((r) => reportOf(r).writePauseMs).join(', ')} ms, ${outcomes.reduce((n, o) => n + o.acknowledged, 0)} commits acknowledged, 0 lost\n`);
    } finally {
      await Promise.all(sandboxes.map((sandbox) => stopSandbox(sandbox)));
    }
  });
});
