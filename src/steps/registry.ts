/** Every step kind, by name. The playbook schema is assembled from these (playbook/schema.ts). */
import type { Step } from '../playbook/schema.js';
import { checkLagStep } from './check-lag.js';
import { checkpointStep } from './checkpoint.js';
import { compareTablesStep } from './compare-tables.js';
import { copySequencesStep } from './copy-sequences.js';
import { confirmFailureStep } from './confirm-failure.js';
import { demoteOldPrimaryStep } from './demote-old-primary.js';
import { execStep } from './exec.js';
import { fenceOldPrimaryStep } from './fence-old-primary.js';
import { fenceWritesStep } from './fence-writes.js';
import { followStep } from './follow.js';
import { logicalCatchupStep } from './logical-catchup.js';
import { preflightStep } from './preflight.js';
import { promoteStep } from './promote.js';
import { rejoinStep } from './rejoin.js';
import { repointPoolerStep } from './repoint-pooler.js';
import { restartReplicasStep } from './restart-replicas.js';
import { resumeStep } from './resume.js';
import { sqlStep } from './sql.js';
import { switchReplicationStep } from './switch-replication.js';
import { syncStandbysStep } from './sync-standbys.js';
import { takeOverStep } from './take-over.js';
import type { StepDefinition } from './types.js';
import { unfenceStep } from './unfence.js';
import { unswitchReplicationStep } from './unswitch-replication.js';
import { verifyStep } from './verify.js';
import { waitCatchupStep } from './wait-catchup.js';

/** In the order the schema's error message lists them. */
export const STEP_DEFINITIONS = [
  preflightStep,
  checkLagStep,
  checkpointStep,
  fenceWritesStep,
  waitCatchupStep,
  promoteStep,
  repointPoolerStep,
  resumeStep,
  unfenceStep,
  followStep,
  demoteOldPrimaryStep,
  syncStandbysStep,
  verifyStep,
  sqlStep,
  execStep,
  confirmFailureStep,
  fenceOldPrimaryStep,
  rejoinStep,
  restartReplicasStep,
  logicalCatchupStep,
  copySequencesStep,
  switchReplicationStep,
  takeOverStep,
  compareTablesStep,
  unswitchReplicationStep,
] as const;

export const kindOf = (definition: StepDefinition): string => (definition.schema.shape.kind as { value: string }).value;

const byKind = new Map<string, StepDefinition>(
  STEP_DEFINITIONS.map((d) => [kindOf(d as unknown as StepDefinition), d as unknown as StepDefinition]),
);

/** The definition of a step's kind, typed loosely: the runner hands each step its own parameters. */
export function definitionOf(step: Step): StepDefinition<never, unknown> & Pick<StepDefinition, 'schema'> {
  return byKind.get(step.kind) as never;
}

/** The worst-case time clients are held: each step's share. */
export const pauseBudgetOf = (steps: readonly Step[]): number =>
  steps.reduce((sum, step) => sum + (definitionOf(step).pauseBudget?.(step as never) ?? 0), 0);
