/**
 * A playbook: a name and a list of typed steps. The step schema is assembled from the step
 * registry (each step file holds its own parameters and defaults); zod's discriminated union on
 * `kind` gives one clear error for an unknown kind. Ordering rules live in `rules.ts` and in each
 * procedure.
 */
import { z } from 'zod';
import { kindOf, STEP_DEFINITIONS } from '../steps/registry.js';
import type { StepDefinition } from '../steps/types.js';

/** The tuple of step schemas, so zod keeps each kind's own type. */
type SchemasOf<T extends readonly unknown[]> = {
  -readonly [I in keyof T]: T[I] extends { schema: infer S } ? S : never;
};
type Schemas = SchemasOf<typeof STEP_DEFINITIONS>;
const schemas = STEP_DEFINITIONS.map((d) => d.schema) as unknown as Schemas;
const kinds = STEP_DEFINITIONS.map((d) => kindOf(d as unknown as StepDefinition));

export const stepSchema = z.discriminatedUnion('kind', schemas, {
  error: `unknown step kind; expected one of ${kinds.join(', ')}`,
});

export const playbookSchema = z.strictObject({
  name: z.string().min(1, { error: 'expected a name' }),
  description: z.string().optional(),
  steps: z.array(stepSchema).min(1, { error: 'expected at least one step' }),
});

export type Step = z.output<typeof stepSchema>;
export type StepKind = Step['kind'];
export type StepOf<K extends StepKind> = Extract<Step, { kind: K }>;
export type Playbook = z.output<typeof playbookSchema>;
