/** Small statistics for the benchmark table. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/**
 * The distance bench's growth at `rtt` over its `baseRtt` runs, in round trips, and the part of
 * it in the tool's write pause (PAUSE..RESUME); the rest comes after RESUME. NaN where a round
 * trip has no runs. One reading for the distance bench's table and for goals.txt.
 */
export function distanceSplit(
  results: ReadonlyArray<{ rttMs: number; gapMs: number; pauseMs: number }>,
  rtt: number,
  baseRtt = 0,
): { growth: number; pause: number; afterResume: number } {
  const medianAt = (at: number, pick: (r: { gapMs: number; pauseMs: number }) => number) =>
    summarize(results.filter((r) => r.rttMs === at).map(pick)).median;
  const growth = (medianAt(rtt, (r) => r.gapMs) - medianAt(baseRtt, (r) => r.gapMs)) / rtt;
  const pause = (medianAt(rtt, (r) => r.pauseMs) - medianAt(baseRtt, (r) => r.pauseMs)) / rtt;
  return { growth, pause, afterResume: growth - pause };
}

export const fmt = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');

/** Adds one benchmark's section to `outDir/results.json`, keeping the others' (each bench writes its own key). */
export async function saveSection(outDir: string, key: string, value: unknown): Promise<void> {
  const file = join(outDir, 'results.json');
  await mkdir(outDir, { recursive: true }); // a bench run alone with --out DIR (versus died here once)
  const previous = await readFile(file, 'utf8')
    .then((t) => JSON.parse(t) as Record<string, unknown>)
    .catch(() => ({}));
  await writeFile(file, `${JSON.stringify({ ...previous, [key]: value }, null, 2)}\n`);
}
