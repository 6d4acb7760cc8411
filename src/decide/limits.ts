/** Limits that preflight enforces; they come from the playbook's preflight step. */
export interface PreflightLimits {
  readonly maxLagBytes: number;
  readonly maxLagSeconds: number;
  readonly maxTransactionAgeMs: number;
  readonly allowLogicalSlots: boolean;
  /** How long clients may be queued in the worst case (fence + catch-up + promote budgets). */
  readonly pauseBudgetMs: number;
}

export const DEFAULT_LIMITS: PreflightLimits = {
  maxLagBytes: 16 * 1024 * 1024,
  maxLagSeconds: 10,
  maxTransactionAgeMs: 30_000,
  allowLogicalSlots: false,
  pauseBudgetMs: 60_000,
};

export function limitsFrom(
  step: {
    max_lag_bytes: number;
    max_lag_seconds: number;
    max_transaction_age: number;
    allow_logical_slots: boolean;
  },
  pauseBudgetMs = DEFAULT_LIMITS.pauseBudgetMs,
): PreflightLimits {
  return {
    maxLagBytes: step.max_lag_bytes,
    maxLagSeconds: step.max_lag_seconds,
    maxTransactionAgeMs: step.max_transaction_age,
    allowLogicalSlots: step.allow_logical_slots,
    pauseBudgetMs,
  };
}
