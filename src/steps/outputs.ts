/**
 * What each step kind records as it runs, typed per kind. Only that step (and its undo) writes
 * its record; later steps, the runner and the report read them. A half-done run is finished or
 * undone from records seeded from the observed cluster (procedures/<name>/recovery-plan.ts).
 */
import type { Lsn } from '../model/lsn.js';

export interface FenceOutput {
  /** When clients started to be held. */
  startedAt?: number;
  /** Routers this run holds (paused); the fence's undo releases them. */
  readonly held: Set<string>;
  releasedAt?: number;
  /** A fast shutdown of the old primary was requested (its postmaster may still be exiting). */
  stopRequested: boolean;
  /** The old primary can no longer write: its shutdown checkpoint is written. */
  stopped: boolean;
  readOnly: boolean;
  postmasterPid?: number;
  finalLsn?: Lsn;
  finalLsnSource?: string;
  oldTimeline?: number;
  /**
   * A role fence: the application roles as they were before it (journalled as 'role-fence'), on
   * the old primary; the undo gives exactly these back, and so does the new primary's release.
   */
  roleFence?: { readonly node: string; readonly roles: readonly RecordedRole[] };
  /** The catch-up marker this run wrote after the fence (its run id), which the target must see. */
  marker?: string;
}

export interface RecordedRole {
  readonly name: string;
  readonly canLogin: boolean;
  readonly connLimit: number;
}

export interface Outputs {
  readonly checkpoint: { postmasterPid?: number };
  readonly 'fence-writes': FenceOutput;
  readonly 'wait-catchup': { targetReplayLsn?: Lsn };
  /** The timeline the old primary was on when promotion was requested. */
  readonly promote: { targetReplayLsn?: Lsn; oldTimeline?: number };
  readonly 'repoint-pooler': { readonly repointed: Set<string> };
  readonly resume: { readonly released: Set<string>; resumedAt?: number; newTimeline?: number };
  readonly follow: { readonly followers: Record<string, string> };
  readonly 'demote-old-primary': { started: boolean; role?: string };
  /** How a former primary (or diverged replica) came back: without a rewind, or after pg_rewind. */
  readonly rejoin: {
    how?: 'no rewind needed' | 'pg_rewind';
    role?: string;
    detail?: string;
    discarded?: { from: string; to: string; bytes: number; timeline?: number };
  };
}

export const newOutputs = (): Outputs => ({
  checkpoint: {},
  'fence-writes': { held: new Set(), stopRequested: false, stopped: false, readOnly: false },
  'wait-catchup': {},
  promote: {},
  'repoint-pooler': { repointed: new Set() },
  resume: { released: new Set() },
  follow: { followers: {} },
  'demote-old-primary': { started: false },
  rejoin: {},
});

/** Routers still holding clients: held by the fence and released neither by its undo nor by resume. */
export const stillHeld = (outputs: Outputs): Set<string> =>
  new Set([...outputs['fence-writes'].held].filter((name) => !outputs.resume.released.has(name)));

/**
 * The timeline this run promoted away from (as recorded at the point of no return, or read from
 * pg_control after the stop); unknown when finishing a half-done run, whose old primary may
 * already be on the new timeline as a replica.
 */
export const oldTimelineOf = (outputs: Outputs): number | undefined =>
  outputs.promote.oldTimeline ?? outputs['fence-writes'].oldTimeline;
