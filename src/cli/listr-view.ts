/** The terminal progress view: listr2 renders, the runner runs. Loaded only on a TTY (listr2 is heavy). */
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import type { PlannedStep, Plan } from '../playbook/plan.js';
import { formatMs } from '../util/time.js';
import { say } from './output.js';
import { plainLine, type ProgressView } from './progress.js';

type Settle =
  { kind: 'done'; summary: string; ms: number } | { kind: 'fail'; error: string } | { kind: 'skip'; reason: string };

/** Each task waits for the runner's verdict on its step. */
export function listrView(plan: Plan): ProgressView {
  const waiting = new Map<string, { promise: Promise<Settle>; resolve: (s: Settle) => void }>();
  for (const step of plan.steps) {
    let resolve!: (s: Settle) => void;
    const promise = new Promise<Settle>((r) => (resolve = r));
    waiting.set(step.id, { promise, resolve });
  }
  const later: string[] = [];
  const listr = new Listr(
    plan.steps.map((step: PlannedStep) => ({
      title: step.title,
      task: async (_ctx: unknown, task: { title: string; output: string; skip(message?: string): void }) => {
        const settled = await waiting.get(step.id)!.promise;
        if (settled.kind === 'skip') return task.skip(`${step.title} (${settled.reason})`);
        if (settled.kind === 'fail') throw new Error(settled.error);
        task.title = `${step.title} (${formatMs(settled.ms)})`;
        task.output = settled.summary;
      },
    })),
    {
      concurrent: false,
      exitOnError: false,
      // Ctrl-C belongs to the runner (rollback), not to the renderer.
      registerSignalListeners: false,
      // Progress is for people: stderr, so stdout stays clean for --json and pipes.
      rendererOptions: {
        collapseErrors: false,
        lazy: true, // no spinner: redraw only when a step changes, so drawing does not delay the steps
        logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }),
      },
    },
  );
  const running = listr.run().catch(() => undefined);
  const settleRest = (reason: string) => {
    for (const entry of waiting.values()) entry.resolve({ kind: 'skip', reason });
  };
  return {
    on(event) {
      if (event.type === 'step-end')
        waiting.get(event.step.id)?.resolve({ kind: 'done', summary: event.summary, ms: event.durationMs });
      else if (event.type === 'step-failed') waiting.get(event.step.id)?.resolve({ kind: 'fail', error: event.error });
      else if (event.type === 'step-skipped')
        waiting.get(event.step.id)?.resolve({ kind: 'skip', reason: event.reason });
      else if (event.type === 'rollback-start') settleRest('not run');
      else if (event.type !== 'step-start') {
        const line = plainLine(event);
        if (line) later.push(line);
      }
    },
    async finish() {
      settleRest('not run');
      await running;
      for (const line of later) say(line);
    },
  };
}
