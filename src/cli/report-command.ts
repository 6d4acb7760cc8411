/** `pg-handover report JOURNAL…`: one run's journal, or a folder of them (a wave), as Markdown or a self-contained HTML page. */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BadInputError } from '../errors.js';
import { out, say } from './output.js';
import { renderHtml, renderMarkdown } from './journal-report/render.js';
import { parseJournal, summarize, type RunSummary } from './journal-report/summary.js';

export interface ReportFlags {
  format?: string;
  output?: string;
}

export function reportCommand(paths: readonly string[], flags: ReportFlags): void {
  const format = flags.format ?? (flags.output?.endsWith('.html') ? 'html' : 'md');
  if (format !== 'html' && format !== 'md')
    throw new BadInputError(`--format: expected html or md, got "${format}"`, 'format');
  const files = paths.flatMap((path) => {
    try {
      return statSync(path).isDirectory()
        ? readdirSync(path)
            .filter((f) => f.endsWith('.jsonl'))
            .sort()
            .map((f) => join(path, f))
        : [path];
    } catch {
      throw new BadInputError(`${path}: no such journal file or folder`, 'journal');
    }
  });
  if (!files.length) throw new BadInputError(`${paths.join(', ')}: no journal (*.jsonl) there`, 'journal');
  const runs: RunSummary[] = files.map((file) => summarize(parseJournal(readFileSync(file, 'utf8'))));
  const text = format === 'html' ? renderHtml(runs) : renderMarkdown(runs);
  if (flags.output) {
    writeFileSync(flags.output, text);
    say(`${runs.length} run(s) written to ${flags.output}`);
  } else {
    out(text);
  }
}
