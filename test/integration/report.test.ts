/**
 * `pg-handover report` on real journals (a switchover's, a failover's, and the folder of both as
 * a wave), opened in a real browser: Debian's Chromium driven by playwright-core, offline. The
 * page shows the steps in the journal's order, the time clients were held and the verdict, and
 * no secret of the sandbox.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { postmasterPid } from '../../src/sandbox/control.js';
import { waitGone } from '../../src/shell/processes.js';
import { cli, reportOf } from './support/cli.js';
import { describe, expect, test } from './support/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';

describe.skipIf(!existsSync(CHROMIUM))('pg-handover report, in a browser', () => {
  test("a switchover's, a failover's and a wave's journals: steps in order, the pause, the verdict, no secret", async ({
    sandbox,
  }) => {
    const inventory = sandbox.manifest.inventoryFile;
    const switched = await cli(['switchover', '-i', inventory, '--yes', '--json', '-t', 'pg2']);
    expect(switched.exitCode, switched.stderr).toBe(0);
    const pid = postmasterPid(sandbox.manifest, 'pg2')!;
    process.kill(pid, 'SIGKILL');
    await waitGone([pid], 10_000);
    const failed = await cli(['failover', '-i', inventory, '--yes', '--json']);
    expect(failed.exitCode, failed.stderr).toBe(0);
    const journals = [reportOf(switched).journal as string, reportOf(failed).journal as string];
    const folder = join(journals[0]!, '..');

    const md = await cli(['report', journals[0]!]);
    expect(md.exitCode, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/^## switchover pg1 -> pg2: succeeded \(exit 0\)/m);
    expect(md.stdout).toMatch(/- LSN proof: the old primary's final position [0-9A-F]+\/[0-9A-F]+/);

    const secrets = readFileSync(sandbox.manifest.passfile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(':').at(-1)!)
      .filter((p) => p.length > 6);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      for (const [name, target, expected] of [
        ['switchover', journals[0]!, { steps: stepIds(journals[0]!), verdict: 'succeeded (exit 0)' }],
        ['failover', journals[1]!, { steps: stepIds(journals[1]!), verdict: 'succeeded (exit 0)' }],
        [
          'wave',
          folder,
          { steps: [...stepIds(journals[0]!), ...stepIds(journals[1]!)], verdict: 'succeeded (exit 0)' },
        ],
      ] as const) {
        const file = join(sandbox.dir, `${name}.html`);
        const rendered = await cli(['report', target, '-o', file]);
        expect(rendered.exitCode, rendered.stderr).toBe(0);
        const context = await browser.newContext({ offline: true });
        const page = await context.newPage();
        const requests: string[] = [];
        page.on('request', (r) => void (r.url().startsWith('file:') || requests.push(r.url())));
        await page.goto(`file://${file}`);
        const rows = await page.locator('tr.step-row td:first-child').allTextContents();
        expect(
          rows.map((r) => r.split(' ')[0]),
          name,
        ).toEqual(expected.steps);
        expect(await page.locator('svg rect.step').count()).toBe(expected.steps.length);
        const held = await page.locator('dd.clients-held').first().textContent();
        expect(held, name).toMatch(/^\d+ ms \(from \+/);
        expect(await page.locator('.verdict').first().textContent()).toBe(expected.verdict);
        if (name === 'wave')
          expect(await page.locator('table.wave tbody tr').count()).toBe(
            readdirSync(folder).filter((f) => f.endsWith('.jsonl')).length,
          );
        if (name === 'failover')
          expect(await page.locator('dd.data-loss').textContent()).toMatch(/possible loss: \d+ bytes known/);
        const text = await page.content();
        for (const secret of secrets) expect(text).not.toContain(secret);
        expect(requests, 'no network').toEqual([]);
        await context.close();
      }
    } finally {
      await browser.close();
    }
  });
});

/** The step ids of a journal, in the order they started. */
function stepIds(journal: string): string[] {
  return readFileSync(journal, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { event: string; step?: string })
    .filter((e) => e.event === 'step-start')
    .map((e) => e.step!);
}
