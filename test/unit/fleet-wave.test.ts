/** The CI matrix wave (examples/github-actions/fleet-wave.yml): one cluster at a time, stopped at the first failure, each exit code mapped as docs/fleet.md says, run by bash with a stand-in for pg-handover. */
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const workflow = parse(readFileSync('examples/github-actions/fleet-wave.yml', 'utf8'));
const job = workflow.jobs.wave;
const script = job.steps.find((s: { id?: string }) => s.id === 'run').run as string;

async function step(code: number, strict = false) {
  const dir = mkdtempSync(join(tmpdir(), 'pgh-wave-'));
  const fake = join(dir, 'pg-handover');
  writeFileSync(fake, `#!/bin/sh\necho '{"event":"done","message":"stand-in"}'\nexit ${code}\n`);
  chmodSync(fake, 0o755);
  const env = {
    PG_HANDOVER: fake,
    PROCEDURE: 'rolling-restart',
    INVENTORY: 'orders.yaml',
    STRICT: strict ? '1' : '',
    GITHUB_OUTPUT: join(dir, 'out'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary'),
    PATH: process.env.PATH!,
  };
  const result = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd: dir,
    env,
    reject: false,
  });
  return {
    exitCode: result.exitCode,
    output: `${result.stdout}${result.stderr}`,
    recorded: readFileSync(join(dir, 'out'), 'utf8'),
  };
}

describe('the CI matrix wave', () => {
  it('one cluster at a time, stopped at the first failed job', () => {
    expect(job.strategy).toMatchObject({ 'max-parallel': 1, 'fail-fast': true });
    expect(job.strategy.matrix.inventory.length).toBeGreaterThan(1);
  });

  it.each([
    [0, 0, 'notice'],
    [8, 0, 'warning'],
    [3, 0, 'warning'],
    [4, 1, 'error'],
    [6, 1, 'error'],
    [5, 1, 'OPERATOR NEEDED'],
    [2, 1, 'error'],
    [7, 1, 'error'],
    [1, 1, 'error'],
  ])('exit %i: the job exits %i with a %s', async (code, jobExit, said) => {
    const result = await step(code);
    expect(result.exitCode).toBe(jobExit);
    expect(result.output).toContain(said);
    expect(result.recorded).toContain(`exit_code=${code}`);
  });

  it('strict: a refused cluster stops the wave too', async () => {
    expect((await step(3, true)).exitCode).toBe(1);
  });
});
