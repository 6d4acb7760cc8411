/** Whether a node accepts writes, as a new connection finds it; pure. */
export interface Writability {
  readonly inRecovery: boolean;
  readonly readOnly: boolean;
}

export const isWritable = (w: Writability): boolean => !w.inRecovery && !w.readOnly;
