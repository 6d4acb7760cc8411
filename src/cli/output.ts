/** Everything the CLI prints goes through here, so it is redacted and goes to the right stream. */
import { redact } from '../util/secrets.js';

export const say = (line = ''): void => {
  process.stderr.write(`${redact(line)}\n`);
};

export const out = (line = ''): void => {
  process.stdout.write(`${redact(line)}\n`);
};

export const outJson = (value: unknown): void => {
  process.stdout.write(`${redact(JSON.stringify(value, bigintReplacer))}\n`);
};

export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export function table(rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
