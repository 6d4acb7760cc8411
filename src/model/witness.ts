/**
 * A failover's witnesses: parties other than the tool that can see the suspected primary. The
 * tool's own silence proves nothing ("unreachable from here" is not "down"); a witness that
 * reaches the primary proves the tool is the one cut off. Pure data.
 */

/** `reaches`: it got an answer from the suspect; `cannot-reach`: it tried and got none; `unknown`: it could not be asked, or said nothing either way. */
export type WitnessVerdict = 'reaches' | 'cannot-reach' | 'unknown';

export interface WitnessAnswer {
  /** `pooler pgbouncer`, `host of pg2`, `replica pg2`. */
  readonly witness: string;
  readonly kind: 'pooler' | 'host' | 'replica';
  readonly verdict: WitnessVerdict;
  /** What it saw, in a few words, for the check's message and the journal. */
  readonly detail: string;
  /** How long it took to answer, from the start of the observation. */
  readonly ms?: number;
}

/** What the poolers and the other nodes' hosts said of `suspect`, asked while the tool probed it. */
export interface Witnesses {
  readonly suspect: string;
  readonly answers: readonly WitnessAnswer[];
}
