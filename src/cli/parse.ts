/** Flag parsing helpers that fail with a one-line BadInputError naming the flag. */
import { BadInputError } from '../errors.js';

export function intFlag(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
    throw new BadInputError(`--${name}: expected integer ${min}–${max}, got "${value}"`, name);
  }
  return n;
}
