/**
 * Every router kind, keyed on the inventory's `kind`. Adding one is a folder under
 * src/routers/ and one line here; no step changes.
 */
import { z } from 'zod';
import type { RouterSpec } from '../inventory/model.js';
import { haproxy } from './haproxy/index.js';
import { pgbouncer } from './pgbouncer/index.js';
import type { Check } from '../decide/checks.js';
import type { RouterState } from '../model/router.js';
import type { Router, RouterCheckInput, RouterKind } from './types.js';

const KINDS: readonly RouterKind<never>[] = [pgbouncer as RouterKind<never>, haproxy as RouterKind<never>];
const DEFAULT_ROUTER_KIND = 'pgbouncer';

export function routerKind(kind: string): RouterKind {
  const found = KINDS.find((k) => k.kind === kind);
  if (!found) throw new Error(`unknown router kind "${kind}"`);
  return found;
}

export const openRouter = (spec: RouterSpec): Promise<Router> => routerKind(spec.kind).open(spec);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** One entry of the inventory's `poolers:` list: `kind` (default pgbouncer) selects the shape. */
export const routerEntrySchema = z.preprocess(
  (value) => (isRecord(value) && value.kind === undefined ? { ...value, kind: DEFAULT_ROUTER_KIND } : value),
  z.discriminatedUnion('kind', KINDS.map((k) => k.schema) as unknown as [z.ZodObject, ...z.ZodObject[]], {
    error: `expected kind ${KINDS.map((k) => `"${k.kind}"`).join(' or ')}`,
  }),
);

/** Each observed router checked by its own kind. */
export const routerChecks = (observed: RouterState, input: RouterCheckInput): Check[] =>
  routerKind(observed.kind).checks(observed, input);
