/**
 * Progress views for a run: plain lines (not a TTY, CI), JSON events (--json), or listr2 on a
 * terminal (listr-view.ts, loaded only then). They only listen to runner events; none decides anything.
 */
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

export function plainLine(event: RunEvent): string | undefined {
  switch (event.type) {
    case 'step-start':
      return `> ${event.step.id}: ${event.step.title}`;
    case 'step-end':
      return `  done ${event.step.id} in ${formatMs(event.durationMs)}: ${event.summary}`;
    case 'step-failed':
      return `  FAILED ${event.step.id} after ${formatMs(event.durationMs)}: ${event.error}`;
    case 'step-skipped':
      return `  skipped ${event.step.id}: ${event.reason}`;
    case 'rollback-start':
      return `! rolling back: ${event.reason}`;
    case 'undo-end':
      return `  undone ${event.step.id}: ${event.summary}`;
    case 'undo-failed':
      return `  UNDO FAILED ${event.step.id}: ${event.error}`;
    case 'note':
      return `  note: ${event.message}`;
    default:
      return undefined;
  }
}
