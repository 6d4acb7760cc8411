/** WAL positions as bigints, so lag math is exact. */
export type Lsn = bigint;

export function parseLsn(text: string | null | undefined): Lsn | undefined {
  if (!text) return undefined;
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) return undefined;
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

export function formatLsn(lsn: Lsn | undefined): string {
  if (lsn === undefined) return 'unknown';
  const high = (lsn >> 32n).toString(16).toUpperCase();
  const low = (lsn & 0xffffffffn).toString(16).toUpperCase();
  return `${high}/${low}`;
}

/** Bytes from `from` to `to`, never negative (a replica ahead of a stale reading is at 0). */
export function lsnDiff(to: Lsn | undefined, from: Lsn | undefined): bigint | undefined {
  if (to === undefined || from === undefined) return undefined;
  return to > from ? to - from : 0n;
}

export const maxLsn = (...values: Array<Lsn | undefined>): Lsn | undefined =>
  values.reduce<Lsn | undefined>((a, b) => (b === undefined ? a : a === undefined || b > a ? b : a), undefined);
