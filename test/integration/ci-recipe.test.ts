/**
 * The CI recipe cannot rot: its `run:` scripts, taken from examples/github-actions/
 * scheduled-maintenance.yml as they are, run here as GitHub's runner would run them (bash -e,
 * the files behind GITHUB_ENV, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY, the secret in the
 * environment), against a sandbox on PostgreSQL 15.17 that the maintenance moves to 15.18.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parse } from 'yaml';
import { postmasterPid, startPgBouncer } from '../../src/sandbox/control.js';
import { waitGone } from '../../src/shell/processes.js';
import { sql, stopPooler } from './support/cluster.js';
import { describe, expect, startSandbox, stopSandbox, test } from './support/fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RECIPE = join(ROOT, 'examples/github-actions/scheduled-maintenance.yml');
const OLDER = (await execa('bash', [join(ROOT, 'scripts/install-older-minor.sh'), '--print-dir'])).stdout.trim();
const NEWER = '/usr/lib/postgresql/15/bin';

interface Workflow {
  env: Record<string, string>;
  jobs: Record<string, { steps: Array<{ id?: string; run?: string }> }>;
}

/** A step's script, as written in the recipe. */
async function script(job: string, id: string): Promise<string> {
  const workflow = parse(await readFile(RECIPE, 'utf8')) as Workflow;
  const step = workflow.jobs[job]!.steps.find((s) => s.id === id);
  if (!step?.run) throw new Error(`no step ${id} with a run script in job ${job}`);
  return step.run;
}

/** Runs one step as the runner does: `bash --noprofile --norc -eo pipefail`, GITHUB_ENV carried to the next step. */
class Runner {
  env: Record<string, string> = {};
  constructor(
    readonly dir: string,
    base: Record<string, string>,
  ) {
    this.env = {
      ...base,
      RUNNER_TEMP: dir,
      GITHUB_ENV: join(dir, 'env'),
      GITHUB_OUTPUT: join(dir, 'output'),
      GITHUB_STEP_SUMMARY: join(dir, 'summary.md'),
    };
  }

  async step(job: string, id: string, secrets: Record<string, string> = {}) {
    await writeFile(this.env.GITHUB_ENV!, '');
    const result = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', await script(job, id)], {
      cwd: this.dir,
      env: { ...this.env, ...secrets },
      reject: false,
      timeout: 120_000,
    });
    for (const line of (await readFile(this.env.GITHUB_ENV!, 'utf8')).split('\n').filter(Boolean)) {
      const [key, ...value] = line.split('=');
      this.env[key!] = value.join('=');
    }
    return { exitCode: result.exitCode, output: `${result.stdout}\n${result.stderr}` };
  }

  summary = () => readFile(this.env.GITHUB_STEP_SUMMARY!, 'utf8').catch(() => '');
}

async function stopNodeFast(sandbox: Awaited<ReturnType<typeof startSandbox>>, name: string): Promise<void> {
  const pid = postmasterPid(sandbox.manifest, name)!;
  process.kill(pid, 'SIGINT');
  await waitGone([pid], 30_000);
}

describe('the CI recipe (examples/github-actions/scheduled-maintenance.yml)', () => {
  test('nightly dry run (ready, then refused with the reason as the summary), then the maintenance: 15.17 -> 15.18, report and journal kept, no secret printed', async () => {
    const sandbox = await startSandbox(2, 1, 'plain', false, OLDER);
    const dir = await mkdtemp(join(tmpdir(), 'pgh-ci-'));
    try {
      // The inventory names no passfile: the password comes from the secret, as in CI.
      const inventory = join(dir, 'inventory.yaml');
      await writeFile(
        inventory,
        (await readFile(sandbox.manifest.inventoryFile, 'utf8')).replace(/^passfile: .*\n/m, ''),
      );
      const secret = await readFile(sandbox.manifest.passfile, 'utf8');
      const passwords = secret
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(':').at(-1)!);
      const runner = new Runner(dir, {
        PATH: process.env.PATH!,
        HOME: process.env.HOME ?? dir,
        PROCEDURE: 'rolling-restart',
        INVENTORY: inventory,
        BIN_DIR: NEWER,
        PG_HANDOVER: `node ${join(ROOT, 'bin/pg-handover.js')}`,
      });
      const secrets = { PG_HANDOVER_PGPASS: secret.trim() };

      expect((await runner.step('dry-run', 'passfile', secrets)).exitCode).toBe(0);
      expect(runner.env.PGPASSFILE).toBe(join(dir, 'pgpass'));
      const ready = await runner.step('dry-run', 'dry-run');
      expect(ready.exitCode, ready.output).toBe(0);
      expect(ready.output).toContain('::notice title=pg-handover dry run::ready');
      expect(await runner.summary()).toMatch(/### pg-handover rolling-restart --dry-run: READY \(exit 0\)/);

      // PgBouncer down: the nightly run fails the job and says why.
      await stopPooler(sandbox, 0);
      const refused = await runner.step('dry-run', 'dry-run');
      expect(refused.exitCode).toBe(1);
      expect(refused.output).toContain('::error title=pg-handover dry run::preflight refused');
      expect(await runner.summary()).toMatch(
        /NOT READY, \d+ failing check\(s\) \(exit 3\)[\s\S]*\| pooler-reachable \| fail \| pooler pgbouncer admin console unreachable/,
      );
      await startPgBouncer(sandbox.manifest);

      const run = await runner.step('maintenance', 'run');
      expect(run.exitCode, run.output).toBe(0);
      expect(run.output).toContain('::notice title=pg-handover::succeeded');
      expect(await readFile(join(dir, 'output'), 'utf8')).toContain('exit_code=0');
      const summary = await runner.summary();
      expect(summary).toMatch(/### pg-handover rolling-restart: ROLLING RESTART SUCCEEDED \(exit 0\)/);
      expect(summary).toMatch(/\| 2-restart-replicas \| done \|/);
      const report = (await readFile(join(dir, 'report.jsonl'), 'utf8'))
        .split('\n')
        .filter((l) => l.includes('"event":"report"'));
      expect(report).toHaveLength(1);
      expect((await readdir(join(dir, 'journal'))).some((f) => f.endsWith('.jsonl'))).toBe(true);
      for (const node of sandbox.inventory.nodes) {
        expect(
          (await sql({ ...node.conn, dbname: 'postgres' }, "SELECT current_setting('server_version_num') AS v"))[0]!.v,
        ).toBe('150018');
      }

      // Run again (a re-run job): nothing left to do is a green job, not a refusal.
      const again = await runner.step('maintenance', 'run');
      expect(again.exitCode, again.output).toBe(0);
      expect(again.output).toContain('::notice title=pg-handover::succeeded (or nothing left to do)');
      expect(await runner.summary()).toMatch(
        /### pg-handover rolling-restart: nothing to do: every node already runs 15\.18 \(exit 0\)/,
      );

      // An OS patch (--all) with a replica down: done, degraded (exit 8) is a warning, the job stays green.
      const down =
        sandbox.manifest.nodes.find((n) => n.name !== 'pg2' && n.name !== 'pg1') ?? sandbox.manifest.nodes[2]!;
      await stopNodeFast(sandbox, down.name);
      runner.env.ALL = '1';
      const degraded = await runner.step('maintenance', 'run');
      expect(degraded.exitCode, degraded.output).toBe(0);
      expect(degraded.output).toContain('::warning title=pg-handover::done, degraded');
      expect(await readFile(join(dir, 'output'), 'utf8')).toContain('exit_code=8');

      const everything = `${ready.output}${refused.output}${run.output}${again.output}${degraded.output}${summary}${await readFile(join(dir, 'report.jsonl'), 'utf8')}`;
      for (const password of passwords) expect(everything).not.toContain(password);
    } finally {
      await stopSandbox(sandbox);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
