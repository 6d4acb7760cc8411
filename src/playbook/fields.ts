/** Parameter types that step schemas share: durations, byte counts, node references, a name. */
import { z } from 'zod';
import { MAX_DURATION_MS, parseDuration } from '../util/time.js';

export const duration = (fallback: string) =>
  z
    .union([z.string(), z.number()], { error: 'expected a duration such as "5s", "250ms" or a number of milliseconds' })
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a positive duration such as "5s" or "250ms", got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      if (ms > MAX_DURATION_MS) {
        ctx.addIssue({ code: 'custom', message: `expected at most 24h, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return ms;
    });

export const bytes = z.int({ error: 'expected a whole number of bytes' }).min(0, { error: 'expected 0 or more bytes' });
export const nodeRef = z
  .string()
  .min(1, { error: 'expected a node: primary, target, old-primary, new-primary or a node name' });
/** Every step may be given a name, shown instead of its generated title. */
export const base = { name: z.string().min(1).optional() };

/** A step's schema: a strict object whose `kind` is its literal name. */
export const stepParams = <K extends string, S extends z.ZodRawShape>(kind: K, shape: S) =>
  z.strictObject({ kind: z.literal(kind), ...base, ...shape });
