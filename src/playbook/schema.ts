/**
 * A playbook: a list of typed steps, each with parameters and defaults. zod's discriminated union
 * on `kind` gives one clear error for an unknown kind; ordering rules live in `rules.ts`.
 */
import { z } from 'zod';
import { MAX_DURATION_MS, parseDuration } from '../util/time.js';

const duration = (fallback: string) =>
  z
    .union([z.string(), z.number()], { error: 'expected a duration such as "5s", "250ms" or a number of milliseconds' })
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected a positive duration such as "5s" or "250ms", got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      if (ms > MAX_DURATION_MS) {
        ctx.addIssue({ code: 'custom', message: `expected at most 24h, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return ms;
    });

/** What an exec step may substitute in its words; a typo must fail validation, not run literally. */
export const EXEC_PLACEHOLDERS = ['primary', 'target', 'primary_host', 'primary_port', 'target_host', 'target_port', 'run_id'] as const;
const knownPlaceholders = (word: string): boolean =>
  [...word.matchAll(/\{([^{}]*)\}/g)].every((m) => (EXEC_PLACEHOLDERS as readonly string[]).includes(m[1]!));

const bytes = z.int({ error: 'expected a whole number of bytes' }).min(0, { error: 'expected 0 or more bytes' });
const nodeRef = z.string().min(1, { error: 'expected a node: primary, target, old-primary, new-primary or a node name' });
const base = { name: z.string().min(1).optional() };

export const stepSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      kind: z.literal('preflight'), ...base,
      max_lag_bytes: bytes.default(16 * 1024 * 1024),
      max_lag_seconds: z.number({ error: 'expected a number of seconds' }).min(0, { error: 'expected 0 or more seconds' }).default(10),
      max_transaction_age: duration('30s'),
      allow_logical_slots: z.boolean({ error: 'expected true or false' }).default(false),
    }),
    z.strictObject({ kind: z.literal('check-lag'), ...base, max_lag_bytes: bytes.default(16 * 1024 * 1024) }),
    z.strictObject({ kind: z.literal('checkpoint'), ...base, timeout: duration('60s') }),
    z.strictObject({
      kind: z.literal('fence-writes'), ...base,
      method: z.enum(['auto', 'clean-stop', 'read-only'], { error: 'expected "auto", "clean-stop" or "read-only"' }).default('auto'),
      pause_timeout: duration('5s'),
      stop_timeout: duration('30s'),
    }),
    z.strictObject({ kind: z.literal('wait-catchup'), ...base, timeout: duration('10s'), poll_interval: duration('2ms') }),
    z.strictObject({ kind: z.literal('promote'), ...base, timeout: duration('30s'), poll_interval: duration('2ms') }),
    z.strictObject({ kind: z.literal('repoint-pooler'), ...base, timeout: duration('10s') }),
    z.strictObject({ kind: z.literal('resume'), ...base }),
    z.strictObject({ kind: z.literal('unfence'), ...base }),
    z.strictObject({ kind: z.literal('follow'), ...base, timeout: duration('30s') }),
    z.strictObject({ kind: z.literal('demote-old-primary'), ...base, timeout: duration('60s') }),
    z.strictObject({ kind: z.literal('verify'), ...base, timeout: duration('15s') }),
    z.strictObject({
      kind: z.literal('sql'), ...base,
      node: nodeRef,
      sql: z.string().min(1, { error: 'expected SQL text' }),
      timeout: duration('30s'),
    }),
    z.strictObject({
      kind: z.literal('exec'), ...base,
      command: z.array(z.string().min(1).refine(knownPlaceholders, {
        error: (issue) => `unknown placeholder in ${JSON.stringify(issue.input)}; expected ${EXEC_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
      })).min(1, { error: 'expected a command as a list of words' }),
      timeout: duration('30s'),
    }),
  ],
  { error: 'unknown step kind; expected one of preflight, check-lag, checkpoint, fence-writes, wait-catchup, promote, repoint-pooler, resume, unfence, follow, demote-old-primary, verify, sql, exec' },
);

export const playbookSchema = z.strictObject({
  name: z.string().min(1, { error: 'expected a name' }),
  description: z.string().optional(),
  steps: z.array(stepSchema).min(1, { error: 'expected at least one step' }),
});

export type Step = z.output<typeof stepSchema>;
export type StepKind = Step['kind'];
export type StepOf<K extends StepKind> = Extract<Step, { kind: K }>;
export type Playbook = z.output<typeof playbookSchema>;
