/**
 * Progress views for a run: plain lines (not a TTY, CI), JSON events (--json), or listr2 on a
 * terminal. All of them only listen to runner events; none of them decides anything.
 */
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import type { PlannedStep, Plan } from '../playbook/plan.js';
import type { RunEvent } from '../runner/events.js';
import { formatMs } from '../util/time.js';
import { outJson, say } from './output.js';

export interface ProgressView {
  on(event: RunEvent): void;
  finish(): Promise<void>;
}

export function plainView(): ProgressView {
  return {
    on(event) {
      const line = plainLine(event);
      if (line) say(line);
    },
    finish: async () => undefined,
  };
}

export function jsonView(): ProgressView {
  return {
    on(event) {
      const { type, ...rest } = event;
      const step = 'step' in rest ? { step: rest.step.id, title: rest.step.title } : {};
      const body = Object.fromEntries(Object.entries(rest).filter(([k]) => k !== 'step'));
      outJson({ event: type, ...step, ...body });
    },
    finish: async () => undefined,
  };
}

function plainLine(event: RunEvent): string | undefined {
  switch (event.type) {
    case 'step-start': return `> ${event.step.id}: ${event.step.title}`;
    case 'step-end': return `  done ${event.step.id} in ${formatMs(event.durationMs)}: ${event.summary}`;
    case 'step-failed': return `  FAILED ${event.step.id} after ${formatMs(event.durationMs)}: ${event.error}`;
    case 'step-skipped': return `  skipped ${event.step.id}: ${event.reason}`;
    case 'rollback-start': return `! rolling back: ${event.reason}`;
    case 'undo-end': return `  undone ${event.step.id}: ${event.summary}`;
    case 'undo-failed': return `  UNDO FAILED ${event.step.id}: ${event.error}`;
    case 'note': return `  note: ${event.message}`;
    default: return undefined;
  }
}

type Settle = { kind: 'done'; summary: string; ms: number } | { kind: 'fail'; error: string } | { kind: 'skip'; reason: string };

/** listr2 renders; the runner runs. Each task waits for the runner's verdict on its step. */
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
      concurrent: false, exitOnError: false,
      // Ctrl-C belongs to the runner (rollback), not to the renderer.
      registerSignalListeners: false,
      // Progress is for people: stderr, so stdout stays clean for --json and pipes.
      rendererOptions: {
        collapseErrors: false,
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
      if (event.type === 'step-end') waiting.get(event.step.id)?.resolve({ kind: 'done', summary: event.summary, ms: event.durationMs });
      else if (event.type === 'step-failed') waiting.get(event.step.id)?.resolve({ kind: 'fail', error: event.error });
      else if (event.type === 'step-skipped') waiting.get(event.step.id)?.resolve({ kind: 'skip', reason: event.reason });
      else if (event.type === 'rollback-start') settleRest('not run');
      else {
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
