/** Parses `pg_controldata` output: the cluster state and the latest checkpoint. Pure. */
import { parseLsn, type Lsn } from '../model/lsn.js';

export interface ControlData {
  readonly state: string;
  readonly checkpointLsn: Lsn | undefined;
  readonly timeline: number | undefined;
  /** A standby's: the timeline of the position it must replay to before it is consistent (0 when none). */
  readonly minRecoveryTimeline?: number;
  readonly systemIdentifier: string | undefined;
}

export function parseControlData(text: string): ControlData {
  const field = (label: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${label}:`));
    return line?.slice(label.length + 1).trim();
  };
  const timeline = field("Latest checkpoint's TimeLineID");
  return {
    state: field('Database cluster state') ?? 'unknown',
    checkpointLsn: parseLsn(field('Latest checkpoint location')),
    timeline: timeline ? Number(timeline) : undefined,
    minRecoveryTimeline: Number(field("Min recovery ending loc's timeline") ?? 0) || undefined,
    systemIdentifier: field('Database system identifier'),
  };
}
