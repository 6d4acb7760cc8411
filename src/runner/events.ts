/** What the runner tells the outside world while it runs; renderers and the journal listen. */
import type { PlannedStep } from '../playbook/plan.js';
import type { Report } from './report.js';

export type RunEvent =
  | { readonly type: 'step-start'; readonly step: PlannedStep }
  | { readonly type: 'step-end'; readonly step: PlannedStep; readonly durationMs: number; readonly summary: string }
  | { readonly type: 'step-failed'; readonly step: PlannedStep; readonly durationMs: number; readonly error: string }
  | { readonly type: 'step-skipped'; readonly step: PlannedStep; readonly reason: string }
  | { readonly type: 'rollback-start'; readonly reason: string }
  | { readonly type: 'undo-end'; readonly step: PlannedStep; readonly summary: string }
  | { readonly type: 'undo-failed'; readonly step: PlannedStep; readonly error: string }
  | { readonly type: 'note'; readonly message: string }
  | { readonly type: 'run-end'; readonly report: Report };

export type Emit = (event: RunEvent) => void;
