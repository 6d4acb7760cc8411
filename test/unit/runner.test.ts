/**
 * The runner with fake steps: no database, milliseconds. Before the point of no return a failure,
 * an interrupt or a timeout undoes the completed steps in reverse; after it the run rolls forward;
 * an undo that fails, or an end state that does not match, makes the headline say so.
 */
import { describe, expect, it } from 'vitest';
import type { Connections } from '../../src/cluster/connections.js';
import { buildPlaybook, decide, planOf } from './support/switchover.js';
import type { Step, StepKind } from '../../src/playbook/schema.js';
import type { EndState } from '../../src/runner/end-state.js';
import { runPlan } from '../../src/runner/run.js';
import { newOutputs } from '../../src/steps/outputs.js';
import { definitionOf } from '../../src/steps/registry.js';
import type { StepContext } from '../../src/steps/types.js';
import { parseYamlText } from '../../src/util/yaml-source.js';
import { healthyCluster } from './support/cluster-fixtures.js';

const KINDS = [
  'preflight',
  'checkpoint',
  'fence-writes',
  'wait-catchup',
  'promote',
  'repoint-pooler',
  'resume',
  'follow',
  'verify',
] as const;
const playbook = buildPlaybook(
  parseYamlText(`name: fake\nsteps:\n${KINDS.map((k) => `  - kind: ${k}`).join('\n')}\n`, 'fake.yaml', 'playbook'),
  ['pg1', 'pg2', 'pg3'],
);
const plan = planOf(playbook, decide(healthyCluster(), playbook, 'pg2').context!);

type Behaviour = 'ok' | 'fail' | 'abort' | 'fail-undo' | 'hang' | 'straggler';

/** Fake step definitions: each records what it did; promote marks the point of no return like the real one. */
function fakes(behaviour: Partial<Record<StepKind, Behaviour>>, abort?: AbortController) {
  const log: string[] = [];
  const definition = (step: Step) => ({
    schema: definitionOf(step).schema,
    title: () => step.kind,
    actions: () => [],
    ...(behaviour[step.kind] === 'hang' ? { pauseBudget: () => 20 } : {}),
    async run(_step: never, ctx: StepContext) {
      const kind = step.kind;
      log.push(`run ${kind}`);
      if (kind === 'promote') {
        ctx.noReturn.requested = true;
        ctx.noReturn.confirmed = true;
      }
      if (behaviour[kind] === 'abort') abort!.abort(new Error('interrupted by SIGINT'));
      if (behaviour[kind] === 'fail') throw new Error(`${kind} failed`);
      if (behaviour[kind] === 'hang') await new Promise(() => undefined);
      if (behaviour[kind] === 'straggler') ctx.log.degraded.push('pg3');
      return `${kind} done`;
    },
    ...(['checkpoint', 'fence-writes', 'wait-catchup'].includes(step.kind)
      ? {
          async undo() {
            log.push(`undo ${step.kind}`);
            if (behaviour[step.kind] === 'fail-undo') throw new Error(`cannot undo ${step.kind}`);
            return `${step.kind} undone`;
          },
        }
      : {}),
  });
  return { log, definitions: (step: Step) => definition(step) as unknown as ReturnType<typeof definitionOf> };
}

const serving = (node: string): EndState => ({
  writable: [node],
  silent: [],
  poolers: [{ name: 'pgb', reachable: true, pointsAt: node, paused: false }],
});
const stuck: EndState = {
  writable: [],
  silent: ['pg1'],
  poolers: [{ name: 'pgb', reachable: true, pointsAt: 'pg1', paused: true }],
};

async function run(behaviour: Partial<Record<StepKind, Behaviour>>, end: EndState, abort = new AbortController()) {
  const { log, definitions } = fakes(behaviour, abort);
  const report = await runPlan(plan, {
    connections: { applicationName: 'test' } as Connections,
    outputs: newOutputs(),
    emit: () => undefined,
    signal: abort.signal,
    journal: { runId: 'R', file: '/dev/null', write: () => undefined },
    definitions,
    observeEnd: async () => end,
    graceMs: 10,
  });
  return { log, report };
}

describe('the runner', () => {
  it('runs every step in order when nothing fails', async () => {
    const { log, report } = await run({}, serving('pg2'));
    expect(log).toEqual(KINDS.map((k) => `run ${k}`));
    expect(report.outcome).toBe('succeeded');
  });

  it('a replica that did not follow in time: done, degraded (exit 8), never exit 5; but only while the end state serves from the target', async () => {
    const { report } = await run({ follow: 'straggler' }, serving('pg2'));
    expect(report.outcome).toBe('degraded');
    expect(report.exitCode).toBe(8);
    const { report: doubt } = await run({ follow: 'straggler' }, stuck);
    expect(doubt.exitCode).toBe(5);
  });

  it('a failure before promotion undoes the completed steps in reverse, the failed one included, and runs nothing after it', async () => {
    const { log, report } = await run({ 'wait-catchup': 'fail' }, serving('pg1'));
    expect(log).toEqual([
      'run preflight',
      'run checkpoint',
      'run fence-writes',
      'run wait-catchup',
      'undo wait-catchup',
      'undo fence-writes',
      'undo checkpoint',
    ]);
    expect(report.outcome).toBe('rolled-back');
    expect(report.exitCode).toBe(4);
  });

  it('a failure after promotion rolls forward: no undo, the remaining steps run, exit 5', async () => {
    const { log, report } = await run({ 'repoint-pooler': 'fail' }, serving('pg2'));
    expect(log.filter((l) => l.startsWith('undo'))).toEqual([]);
    expect(log.slice(-3)).toEqual(['run resume', 'run follow', 'run verify']);
    expect(report.outcome).toBe('failed-after-promotion');
    expect(report.exitCode).toBe(5);
  });

  it.each(['checkpoint', 'fence-writes', 'wait-catchup'] as const)(
    'an interrupt during %s rolls back (exit 6)',
    async (kind) => {
      const { log, report } = await run({ [kind]: 'abort' }, serving('pg1'));
      expect(log).not.toContain('run promote');
      expect(log.at(-1)).toBe('undo checkpoint');
      expect(report.outcome).toBe('interrupted');
      expect(report.exitCode).toBe(6);
    },
  );

  it('an interrupt after promotion is not honoured: the run finishes', async () => {
    const { log, report } = await run({ promote: 'abort' }, serving('pg2'));
    expect(log.at(-1)).toBe('run verify');
    expect(report.outcome).toBe('succeeded');
  });

  it('an undo that fails, leaving no writer, is exit 5 with the verified state in the report', async () => {
    const { report } = await run({ 'wait-catchup': 'fail', 'fence-writes': 'fail-undo' }, stuck);
    expect(report.outcome).toBe('undo-failed');
    expect(report.exitCode).toBe(5);
    expect(report.leftToDo.join('\n')).toMatch(/undo of "fence writes[^"]*" failed: cannot undo fence-writes/);
    expect(report.verified).toBe(
      'NO writable primary answers; pgb -> pg1 (PAUSED); pg1 does not answer the tool (no answer): not proven down',
    );
  });

  it('a rollback whose code path succeeded but whose end state is wrong is not reported as a rollback', async () => {
    const { report } = await run({ 'wait-catchup': 'fail' }, stuck);
    expect(report.outcome).toBe('undo-failed');
  });

  it('a success whose end state is wrong is not reported as a success', async () => {
    const { report } = await run({}, serving('pg1'));
    expect(report.outcome).toBe('failed-after-promotion');
  });

  it('a step that outlives its pause budget is abandoned at the deadline and the run rolls back', async () => {
    const started = performance.now();
    const { log, report } = await run({ 'wait-catchup': 'hang' }, serving('pg1'));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(log).toEqual([
      'run preflight',
      'run checkpoint',
      'run fence-writes',
      'run wait-catchup',
      'undo wait-catchup',
      'undo fence-writes',
      'undo checkpoint',
    ]);
    expect(report.outcome).toBe('rolled-back');
    expect(report.error).toMatch(/did not finish within its budget of 20 ms/);
  });

  it('a step without its own run does exactly its actions, in order: the list the dry run shows', async () => {
    const done: string[] = [];
    const definitions = (step: Step) =>
      ({
        schema: definitionOf(step).schema,
        title: () => step.kind,
        actions: () =>
          ['first', 'second'].map((text) => ({
            text: `${step.kind} ${text}`,
            run: async () => void done.push(`${step.kind} ${text}`),
          })),
        ...(step.kind === 'promote'
          ? {
              run: async (_s: never, ctx: StepContext) => (
                (ctx.noReturn.requested = ctx.noReturn.confirmed = true),
                'promoted'
              ),
            }
          : {}),
      }) as unknown as ReturnType<typeof definitionOf>;
    await runPlan(plan, {
      connections: { applicationName: 'test' } as Connections,
      outputs: newOutputs(),
      emit: () => undefined,
      signal: new AbortController().signal,
      journal: { runId: 'R', file: '/dev/null', write: () => undefined },
      definitions,
      observeEnd: async () => serving('pg2'),
    });
    expect(done).toEqual(KINDS.filter((k) => k !== 'promote').flatMap((k) => [`${k} first`, `${k} second`]));
  });
});
