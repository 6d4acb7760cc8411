/** The result of one named read-only check: what was looked at, what was seen, and the verdict. */
export type Verdict = 'pass' | 'warn' | 'fail';

export interface Check {
  readonly id: string;
  readonly verdict: Verdict;
  readonly message: string;
  readonly observed?: string | number | boolean;
}

export const pass = (id: string, message: string, observed?: Check['observed']): Check => ({
  id,
  verdict: 'pass',
  message,
  observed,
});
export const warn = (id: string, message: string, observed?: Check['observed']): Check => ({
  id,
  verdict: 'warn',
  message,
  observed,
});
export const fail = (id: string, message: string, observed?: Check['observed']): Check => ({
  id,
  verdict: 'fail',
  message,
  observed,
});

export const failures = (checks: readonly Check[]): Check[] => checks.filter((c) => c.verdict === 'fail');
