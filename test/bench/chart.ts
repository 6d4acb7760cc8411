/** An SVG chart of commit latency around one switchover, steps marked, drawn with Vega-Lite. */
import { writeFile } from 'node:fs/promises';
import type { CommitRecord } from '../../src/sandbox/write-load.js';

export interface StepMark {
  readonly step: string;
  readonly atMs: number;
}

export async function writeLatencyChart(
  file: string,
  records: readonly CommitRecord[],
  marks: readonly StepMark[],
  from: number,
  to: number,
  title: string,
): Promise<void> {
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const origin = marks[0]?.atMs ?? from;
  const points = records
    .filter((r) => r.sentAt >= from && r.sentAt <= to)
    .map((r) => ({
      t: Math.round(r.sentAt - origin),
      latency: Math.round((r.doneAt - r.sentAt) * 10) / 10,
      outcome: r.ok ? 'committed' : 'error',
      client: r.client,
    }));
  // Steps are a few ms apart: stagger their labels so they stay readable.
  const rules = marks.map((m, i) => ({ t: Math.round(m.atMs - origin), step: m.step, row: i }));
  const domain = [Math.round(from - origin), Math.round(to - origin)];
  const spec = vl.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 900,
    height: 320,
    layer: [
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 14, opacity: 0.7 },
        encoding: {
          x: {
            field: 't',
            type: 'quantitative',
            title: 'ms since the fence started (commit sent at)',
            scale: { domain, nice: false },
          },
          y: { field: 'latency', type: 'quantitative', title: 'commit latency (ms)' },
          color: {
            field: 'outcome',
            type: 'nominal',
            scale: { domain: ['committed', 'error'], range: ['#1f77b4', '#d62728'] },
          },
        },
      },
      {
        data: { values: rules },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#555' },
        encoding: { x: { field: 't', type: 'quantitative' } },
      },
      {
        data: { values: rules },
        mark: { type: 'text', align: 'left', dx: 3, fontSize: 11, color: '#333' },
        encoding: {
          x: { field: 't', type: 'quantitative' },
          y: { field: 'row', type: 'ordinal', axis: null },
          text: { field: 'step' },
        },
      },
    ],
  } as never).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  await writeFile(file, await view.toSVG());
  view.finalize();
}
