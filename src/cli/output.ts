/**
 * Everything the CLI prints goes through here, so it is redacted and goes to the right stream.
 * A reader that went away (closed terminal, `| head`, a dead ssh session) must never end a run:
 * once a stream fails, further output to it is dropped; the run and its journal go on.
 */
import { redact } from '../util/secrets.js';

const gone = new Set<NodeJS.WriteStream>();

/** Installs the error handlers once, before anything is written. */
export function tolerateClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => gone.add(stream));
  }
}

function write(stream: NodeJS.WriteStream, text: string): void {
  if (gone.has(stream) || stream.destroyed) return;
  try {
    stream.write(text);
  } catch {
    gone.add(stream);
  }
}

export const say = (line = ''): void => write(process.stderr, `${redact(line)}\n`);

export const out = (line = ''): void => write(process.stdout, `${redact(line)}\n`);

export const outJson = (value: unknown): void =>
  write(process.stdout, `${redact(JSON.stringify(value, bigintReplacer))}\n`);

export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export function table(rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
