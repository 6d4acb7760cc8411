/**
 * What a failover knows about the failure it acts on: how the old primary failed the tool's
 * probe, which replicas confirm it, and how much acknowledged work may be lost. Pure data.
 */
import { formatLsn, type Lsn } from './lsn.js';
import type { Silence } from './node.js';

export interface LossEstimate {
  /** All the candidate received from the old primary. */
  readonly candidateLsn: Lsn;
  /** Bytes the candidate lacks of the most advanced position anyone reported. */
  readonly knownBytes: bigint;
  /** Where that most advanced position was seen. */
  readonly knownFrom: string;
  /**
   * Beyond that: `none` when the candidate was a synchronous standby (every acknowledged commit
   * reached it); otherwise `unknown` (WAL the old primary wrote that no replica received).
   */
  readonly beyond: { readonly kind: 'none' | 'unknown'; readonly why: string };
}

export interface Incident {
  readonly silence: Silence;
  /** The playbook's detection timeout: a connection or query not answered within it means hung. */
  readonly detectionMs: number;
  /** Replicas whose own view confirms the old primary is gone. */
  readonly witnesses: readonly string[];
  readonly loss: LossEstimate;
}

/** One line for the plan and the report; never a guess: what is not known is said to be unknown. */
export function describeLoss(loss: LossEstimate): string {
  const known =
    loss.knownBytes === 0n ? `0 bytes known (${loss.knownFrom})` : `${loss.knownBytes} bytes known (${loss.knownFrom})`;
  return `possible loss: ${known}; beyond that: ${loss.beyond.kind === 'none' ? 'none' : 'unknown'} (${loss.beyond.why}); candidate received up to ${formatLsn(loss.candidateLsn)}`;
}

/**
 * The last time the tool saw the primary answering: written after every observation with one
 * writable primary, read by a failover when that primary can no longer be asked.
 */
export interface LastSeen {
  readonly at: string;
  readonly primary: string;
  readonly timeline?: number;
  readonly flushLsn?: string;
  /** Nodes that were synchronous standbys (commits waited for them), by inventory name. */
  readonly syncStandbys: readonly string[];
}

/** The estimate as JSON: bytes as a number, "unknown" said as such. */
export const lossJson = (loss: LossEstimate) => ({
  candidateLsn: formatLsn(loss.candidateLsn),
  knownBytes: Number(loss.knownBytes),
  knownFrom: loss.knownFrom,
  beyond: loss.beyond.kind,
  beyondWhy: loss.beyond.why,
});
