/**
 * The switchover's client gap now against the first release (commit 1079de4), side by side on
 * this machine: each version's own switchover benchmark (same defaults: 8 clients, 500
 * commits/s, 2 replicas, PgBouncer), run in turn, so both see the same load. The first release
 * is checked out into a temporary directory and built there, with this checkout's node_modules.
 *
 *   npm run bench:versus -- --rounds 3 --switchovers 6
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, saveSection, summarize } from './stats.js';

const FIRST_RELEASE = '1079de4';
const GOAL_RATIO = 0.6;
const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    switchovers: { type: 'string', default: '6' },
    out: { type: 'string', default: 'bench-results' },
  },
});

/** One run of a version's own benchmark; the median of its "longest commit gap" row. */
async function gapOf(dir: string, label: string): Promise<number> {
  const out = await mkdtemp(join(tmpdir(), `pgh-versus-${label}-`));
  try {
    const result = await execa(
      'npx',
      ['tsx', 'test/bench/switchover-bench.ts', '--switchovers', String(flags.switchovers), '--out', out],
      { cwd: dir, reject: false, stdin: 'ignore' },
    );
    const row = String(result.stdout)
      .split('\n')
      .find((l) => l.startsWith('longest commit gap'));
    const median = Number(row?.trim().split(/\s+/).at(-4));
    if (result.exitCode !== 0 || !Number.isFinite(median))
      throw new Error(`${label}'s benchmark failed (exit ${result.exitCode}): ${String(result.stderr).slice(-400)}`);
    return median;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const here = resolve('.');
  const first = await mkdtemp(join(tmpdir(), 'pgh-first-release-'));
  try {
    log(`checking out ${FIRST_RELEASE} into ${first} and building it`);
    const archive = await execa('sh', [
      '-c',
      `git -C "$1" archive ${FIRST_RELEASE} | tar -x -C "$2"`,
      'sh',
      here,
      first,
    ]);
    if (archive.exitCode !== 0) throw new Error(`git archive ${FIRST_RELEASE} failed`);
    await symlink(join(here, 'node_modules'), join(first, 'node_modules'));
    await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: first });
    if (!existsSync(join(here, 'dist', 'pg-handover.cjs')))
      throw new Error('build this checkout first (npm run build)');
    const loadAtStart = loadavg()[0]!;
    const firstGaps: number[] = [];
    const nowGaps: number[] = [];
    for (let round = 1; round <= Number(flags.rounds); round++) {
      // Alternating which goes first, so neither always runs on a machine the other just warmed.
      const order = round % 2 ? (['first', 'now'] as const) : (['now', 'first'] as const);
      for (const which of order) {
        const gap = await gapOf(which === 'first' ? first : here, which);
        (which === 'first' ? firstGaps : nowGaps).push(gap);
        log(
          `round ${round}: ${which === 'first' ? `first release (${FIRST_RELEASE})` : 'now'}: median longest gap ${fmt(gap)} ms`,
        );
      }
    }
    const ratio = summarize(nowGaps).median / summarize(firstGaps).median;
    const lines = [
      '',
      `switchover client gap, side by side with the first release (${FIRST_RELEASE}): ${flags.rounds} alternating runs of ${flags.switchovers} switchovers each, medians in ms`,
      `first release: ${firstGaps.map((g) => fmt(g)).join(', ')}  (median ${fmt(summarize(firstGaps).median)})`,
      `now:           ${nowGaps.map((g) => fmt(g)).join(', ')}  (median ${fmt(summarize(nowGaps).median)})`,
      `ratio now / first release: ${ratio.toFixed(2)}   (goal: <= ${GOAL_RATIO}) ${ratio <= GOAL_RATIO ? 'met' : 'NOT met'}`,
      `machine load (1-min average): ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end, ${cpus().length} cores`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    await saveSection(resolve(String(flags.out)), 'versusFirstRelease', {
      firstRelease: FIRST_RELEASE,
      firstGaps,
      nowGaps,
      ratio,
      load: { start: loadAtStart, end: loadavg()[0] },
    });
  } finally {
    await rm(first, { recursive: true, force: true });
  }
}

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

await main();
