/** Whether a node accepts writes, as a new connection finds it; pure. */
export interface Writability {
  readonly inRecovery: boolean;
  readonly readOnly: boolean;
  /** Every application role it knows is NOLOGIN: a role-fenced primary (no application can write there). */
  readonly rolesFenced?: boolean;
}

export const isWritable = (w: Writability): boolean => !w.inRecovery && !w.readOnly && w.rolesFenced !== true;
