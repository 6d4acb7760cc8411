/** Every step kind, by name. */
import type { Step, StepKind } from '../playbook/schema.js';
import { checkLagStep } from './check-lag.js';
import { checkpointStep } from './checkpoint.js';
import { demoteOldPrimaryStep } from './demote-old-primary.js';
import { execStep } from './exec.js';
import { fenceWritesStep } from './fence-writes.js';
import { followStep } from './follow.js';
import { preflightStep } from './preflight.js';
import { promoteStep } from './promote.js';
import { repointPoolerStep } from './repoint-pooler.js';
import { resumeStep, unfenceStep } from './resume.js';
import { sqlStep } from './sql.js';
import type { StepDefinition } from './types.js';
import { verifyStep } from './verify.js';
import { waitCatchupStep } from './wait-catchup.js';

const definitions: { [K in StepKind]: StepDefinition<K> } = {
  preflight: preflightStep,
  'check-lag': checkLagStep,
  checkpoint: checkpointStep,
  'fence-writes': fenceWritesStep,
  'wait-catchup': waitCatchupStep,
  promote: promoteStep,
  'repoint-pooler': repointPoolerStep,
  resume: resumeStep,
  unfence: unfenceStep,
  follow: followStep,
  'demote-old-primary': demoteOldPrimaryStep,
  verify: verifyStep,
  sql: sqlStep,
  exec: execStep,
};

export function definitionOf(step: Step): StepDefinition<StepKind> {
  return definitions[step.kind] as unknown as StepDefinition<StepKind>;
}
