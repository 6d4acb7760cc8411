/** A journal read back for a postmortem: the timeline, the time clients were held, the proof, the end state; a cut-short journal says so. */
import { describe, expect, it } from 'vitest';
import { renderHtml, renderMarkdown } from '../../src/cli/journal-report/render.js';
import { parseJournal, summarize } from '../../src/cli/journal-report/summary.js';

const at = (ms: number) => new Date(Date.UTC(2026, 11, 2, 3, 0, 0, ms)).toISOString();
const lines = [
  {
    at: at(0),
    runId: 'R1',
    event: 'run-start',
    inventory: '/etc/pg/orders.yaml',
    procedure: 'switchover',
    primary: 'pg1',
    target: 'pg2',
  },
  { at: at(5), event: 'step-start', step: '1-preflight', title: 'preflight checks' },
  { at: at(80), event: 'step-end', step: '1-preflight', durationMs: 75, summary: '25 checks' },
  { at: at(80), event: 'step-start', step: '2-fence-writes', title: 'fence writes' },
  { at: at(110), event: 'step-end', step: '2-fence-writes', durationMs: 30, summary: 'pg1 stopped' },
  { at: at(110), event: 'step-start', step: '3-promote', title: 'promote pg2 <script>' },
  { at: at(140), event: 'step-end', step: '3-promote', durationMs: 30, summary: 'pg2 promoted' },
  {
    at: at(150),
    event: 'report',
    report: {
      runId: 'R1',
      outcome: 'succeeded',
      exitCode: 0,
      writePauseMs: 62,
      verified: 'pg2 is the only writable primary; pgb -> pg2',
      finalLsn: '0/5000028',
      finalLsnSource: 'pg_control',
      targetReplayLsn: '0/50000A0',
      leftToDo: [],
      notes: ['a note'],
    },
  },
];
const journal = lines.map((l) => JSON.stringify(l)).join('\n') + '\n{"cut short';

describe('journal report', () => {
  it("the steps on the run's clock, the hold from the fence, the proof and the verdict", () => {
    const run = summarize(parseJournal(journal));
    expect(run.steps.map((s) => [s.id, s.startMs, s.durationMs, s.status])).toEqual([
      ['1-preflight', 5, 75, 'done'],
      ['2-fence-writes', 80, 30, 'done'],
      ['3-promote', 110, 30, 'done'],
    ]);
    expect(run.held).toEqual({ fromMs: 80, toMs: 142 });
    const md = renderMarkdown([run]);
    expect(md).toMatch(/^## switchover pg1 -> pg2: succeeded \(exit 0\)/m);
    expect(md).toContain(
      "- LSN proof: the old primary's final position 0/5000028 (pg_control); the target had replayed 0/50000A0 when promoted",
    );
    const html = renderHtml([run]);
    expect(html).toContain('promote pg2 &lt;script&gt;');
    expect(html).not.toMatch(/<script/);
    expect(html).toContain('class="held"');
  });

  it('a journal without a report (the tool killed) says it is unfinished; a wave gets one row per run', () => {
    const cut = summarize(
      parseJournal(
        lines
          .slice(0, 4)
          .map((l) => JSON.stringify(l))
          .join('\n'),
      ),
    );
    expect(cut.outcome).toMatch(/^unfinished/);
    expect(cut.steps.at(-1)!.status).toBe('started');
    expect(renderMarkdown([summarize(parseJournal(journal)), cut])).toMatch(
      /\| \/etc\/pg\/orders.yaml \| switchover \| unfinished/,
    );
  });
});
