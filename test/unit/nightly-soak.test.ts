/** examples/github-actions/nightly-soak.yml: it runs the project's own soak script, seeded, and keeps the report. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  if?: string;
  with?: Record<string, unknown>;
}
const workflow = parse(readFileSync('examples/github-actions/nightly-soak.yml', 'utf8')) as {
  on: { schedule: Array<{ cron: string }> };
  jobs: Record<
    'soak' | 'soak-containers',
    { steps: Step[]; 'timeout-minutes': number; container: string | { image: string; options?: string } }
  >;
};
const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;

describe('the nightly soak recipe', () => {
  const steps = workflow.jobs.soak.steps;
  it('runs nightly, within the 90-minute limit, the soak the package defines, seeded and timed', () => {
    expect(workflow.on.schedule).toHaveLength(1);
    expect(workflow.jobs.soak['timeout-minutes']).toBeLessThanOrEqual(90);
    expect(scripts.soak).toMatch(/tsx test\/soak\/soak\.ts/);
    const soak = steps.find((s) => s.name === 'Soak')!;
    expect(soak.run).toMatch(/npm run soak -- --seed "\$seed" --duration "\$DURATION" --out "soak-results\/\$seed"/);
  });
  it('keeps the summary and the history even when the soak fails', () => {
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))!;
    expect(upload.if).toBe('always()');
    expect(String(upload.with?.path)).toContain('soak-results/');
    expect(steps.find((s) => s.name === 'Summary')?.if).toBe('always()');
  });
  it('runs the container backend too, in a privileged Debian 12 job container (its own engine), within the limit', () => {
    const job = workflow.jobs['soak-containers'];
    expect(job.container).toMatchObject({ image: 'debian:12', options: expect.stringContaining('--privileged') });
    expect(job['timeout-minutes']).toBeLessThanOrEqual(90);
    expect(job.steps.find((s) => s.run?.includes('scripts/setup.sh'))).toBeDefined();
    expect(job.steps.find((s) => s.name?.startsWith('Soak'))?.run).toMatch(/--backend containers/);
    expect(job.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))?.if).toBe('always()');
  });
});
