/** A run whose journal has no report, or one that ended needing an operator: read by runner/unfinished.ts. */
export interface UnfinishedRun {
  readonly runId: string;
  readonly file: string;
  /** The procedure it ran (journals from before procedures were named: switchover). */
  readonly procedure: string;
  readonly primary: string;
  readonly target: string;
  readonly fenceMethod?: string;
  readonly promoteRequested: boolean;
  /** Its role fence's record: the application roles as they were, on which node (the undo gives them back). */
  readonly roleFence?: {
    readonly node: string;
    readonly roles: ReadonlyArray<{ readonly name: string; readonly canLogin: boolean; readonly connLimit: number }>;
  };
  readonly lastEvent: string;
  readonly pid?: number;
  /** Data and binary directories it acted with, per node (discovered or from the inventory). */
  readonly paths: Readonly<Record<string, { readonly dataDir?: string; readonly binDir?: string }>>;
  /** Its process still runs on this machine: it is running, not half-done. */
  readonly alive: boolean;
}
