/** The soak's summary: Markdown with the figures and every failure's replay command, and an SVG chart. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Iteration {
  readonly seed: number;
  readonly iteration: number;
  readonly operation: string;
  readonly faults: readonly string[];
  readonly atMs: number;
  readonly from: string;
  readonly to?: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly primaryAfter: string | null;
  readonly longestGapMs: number;
  /** Client attempts during the command that were not acknowledged (failed or indeterminate). */
  readonly clientErrors?: number;
  /** What those clients were told, most frequent first ("N× message"). */
  readonly clientErrorMessages?: readonly string[];
  readonly wallMs: number;
  /** The whole iteration's time by phase: before the command, the run, healing, settling, verifying. */
  readonly phasesMs?: Readonly<Record<string, number>>;
  /** Acknowledged ids this iteration found missing for the first time. */
  readonly lost: number | null;
  /** Of those, lost by a failover of a dead or hung primary (asynchronous replication: allowed, and said). */
  readonly lostAllowed?: number;
  readonly unexpected: number | null;
  readonly notes: readonly string[];
  readonly violations: readonly string[];
  readonly verdict: 'ok' | 'FAILED';
  readonly replay: string;
}

export interface SoakResult {
  readonly seed: number;
  readonly durationMs: number;
  readonly iterations: readonly Iteration[];
  readonly counts: Readonly<Record<string, number>>;
  readonly samples: number;
  readonly twoWriterSamples: number;
  /** Samples where the poolers named two writable servers, one answer held by a pause (not simultaneous). */
  readonly inconclusiveSamples: number;
  /** Acknowledged ids missing at the end, not counting those lost to failovers. */
  readonly finalLost: number | null;
  readonly lostToFailovers: number;
  readonly finalUnexpected: number | null;
  readonly command: string;
}

const tally = (values: readonly string[]): Array<[string, number]> =>
  [...values.reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map<string, number>())].sort((a, b) => b[1] - a[1]);

export function writeSummary(dir: string, r: SoakResult): { ok: boolean; headline: string } {
  const failed = r.iterations.filter((i) => i.verdict === 'FAILED');
  const handovers = r.iterations.filter((i) => i.operation !== 'check').length;
  const ok = failed.length === 0 && r.twoWriterSamples === 0 && r.finalLost === 0 && r.finalUnexpected === 0;
  const headline = `soak seed ${r.seed}: ${r.iterations.length} operations (${handovers} handovers) in ${Math.round(r.durationMs / 60_000)} min; ${r.counts.acknowledged} acknowledged ids, ${r.finalLost ?? '?'} lost (and ${r.lostToFailovers} lost by failovers of a killed or hung primary, asynchronous replication), ${r.finalUnexpected ?? '?'} unexpected; ${r.twoWriterSamples} of ${r.samples} samples with two writers through the poolers at once (${r.inconclusiveSamples} inconclusive: one answer held by a pause); ${failed.length} iterations failed`;
  const gaps = r.iterations
    .filter((i) => i.operation !== 'check')
    .map((i) => i.longestGapMs)
    .sort((a, b) => a - b);
  const pct = (p: number) => (gaps.length ? gaps[Math.min(gaps.length - 1, Math.floor((p / 100) * gaps.length))] : 0);
  const byFault = tally(r.iterations.flatMap((i) => i.faults.map((f) => `${f} → ${i.verdict}`)));
  const lines = [
    `# Soak, seed ${r.seed}`,
    '',
    `\`${r.command}\``,
    '',
    `**${headline}.**`,
    '',
    `Client attempts: ${Object.entries(r.counts)
      .map(([k, v]) => `${v} ${k}`)
      .join(
        ', ',
      )} (indeterminate: the connection died while the commit was in flight; it may or may not be there, and either is allowed).`,
    '',
    `Longest client gap per handover: median ${pct(50)} ms, p95 ${pct(95)} ms, max ${pct(100)} ms (clients write through two PgBouncers; a failover's gap includes its detection).`,
    '',
    '| operation | runs | exit codes | client errors during them (fault none / any) |',
    '| --- | ---: | --- | --- |',
    ...tally(r.iterations.map((i) => i.operation)).map(([op, n]) => {
      const of = r.iterations.filter((i) => i.operation === op);
      const errors = (list: readonly Iteration[]) => list.reduce((sum, i) => sum + (i.clientErrors ?? 0), 0);
      const clean = of.filter((i) => i.faults.join() === 'none');
      const codes = tally(of.map((i) => String(i.exitCode ?? i.signal)))
        .map(([c, k]) => `${c}×${k}`)
        .join(', ');
      return `| ${op} | ${n} | ${codes} | ${errors(clean)} / ${errors(of)} |`;
    }),
    '',
    '| fault → verdict | iterations |',
    '| --- | ---: |',
    ...byFault.map(([f, n]) => `| ${f} | ${n} |`),
    '',
    '![gap per iteration](chart.svg)',
    '',
    failed.length ? '## Failures' : '## Failures: none',
    '',
    ...failed.map(
      (i) =>
        `- iteration ${i.iteration} (${i.operation}, ${i.faults.join('+')} at ${i.atMs} ms): ${i.violations.join('; ')}. Replay: \`${i.replay}\``,
    ),
    '',
  ];
  writeFileSync(join(dir, 'summary.md'), lines.join('\n'));
  writeFileSync(join(dir, 'chart.svg'), chart(r.iterations));
  return { ok, headline };
}

/** Longest client gap per iteration, one bar each, coloured by verdict; a log-free linear scale. */
function chart(iterations: readonly Iteration[]): string {
  const w = 900;
  const h = 260;
  const pad = 40;
  const max = Math.max(1000, ...iterations.map((i) => i.longestGapMs));
  const bw = Math.max(1, (w - 2 * pad) / Math.max(1, iterations.length));
  const bars = iterations
    .map((it, k) => {
      const bh = ((h - 2 * pad) * it.longestGapMs) / max;
      const colour = it.verdict === 'FAILED' ? '#c0392b' : it.operation.startsWith('failover') ? '#e67e22' : '#2e86c1';
      return `<rect x="${(pad + k * bw).toFixed(1)}" y="${(h - pad - bh).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="${colour}"><title>#${it.iteration} ${it.operation} ${it.faults.join('+')}: ${it.longestGapMs} ms, ${it.verdict}</title></rect>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">
<text x="${pad}" y="16">longest client gap per iteration (ms); blue switchover/rolling, orange failover, red failed</text>
<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#333"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#333"/>
<text x="2" y="${pad + 4}">${max}</text><text x="2" y="${h - pad}">0</text>
${bars}
</svg>
`;
}
