/**
 * A Markdown summary of a procedure command's end, appended to a file (`--summary FILE`): for CI,
 * e.g. GitHub's $GITHUB_STEP_SUMMARY. It says what happened and what is left, in the words the
 * text output uses; it is redacted like every other output.
 */
import { appendFile } from 'node:fs/promises';
import { failures, type Check } from '../decide/checks.js';
import { failureWord } from '../exit-codes.js';
import type { AnyProcedure } from '../procedures/types.js';
import type { ProcedureResult } from '../runner/run-procedure.js';
import { formatMs } from '../util/time.js';
import { redact } from '../util/secrets.js';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function checksTable(checks: readonly Check[]): string[] {
  const shown = checks.filter((c) => c.verdict !== 'pass');
  if (!shown.length) return [];
  return [
    '',
    '| check | verdict | why |',
    '| --- | --- | --- |',
    ...shown.map((c) => `| ${c.id} | ${c.verdict} | ${cell(c.message)} |`),
  ];
}

export function summaryOf(procedure: AnyProcedure, command: string, result: ProcedureResult, exitCode: number): string {
  const lines: string[] = [];
  if (result.kind === 'dry-run') {
    const failed = failures(result.checks);
    lines.push(
      result.ready
        ? `### ${command} --dry-run: READY (exit ${exitCode})`
        : `### ${command} --dry-run: NOT READY, ${failed.length} failing check(s) (exit ${exitCode})`,
    );
    if (result.plan)
      lines.push(
        '',
        `Would run: ${result.plan.context.primary.name} -> ${result.plan.context.target.name}, nothing changed (${formatMs(result.elapsedMs)}).`,
      );
    lines.push(...checksTable(result.checks));
  } else if (result.kind === 'ran') {
    const r = result.report;
    lines.push(`### ${command}: ${procedure.headline(r)} (exit ${exitCode})`, '');
    if (r.error) lines.push(`- error: ${cell(r.error)}`);
    lines.push(
      `- primary: ${r.primaryNow}${r.primaryNow !== r.oldPrimary ? ` (was ${r.oldPrimary})` : ' (unchanged)'}`,
    );
    if (r.writePauseMs !== undefined) lines.push(`- write pause: ${formatMs(r.writePauseMs)}`);
    if (r.possibleLoss) lines.push(`- data loss: ${cell(r.possibleLoss)}`);
    lines.push(`- verified: ${cell(r.verified ?? 'not verified')}`, `- journal: \`${r.journal}\``);
    lines.push(
      '',
      '| step | status | time |',
      '| --- | --- | --- |',
      ...r.steps.map((s) => `| ${s.id} | ${s.status} | ${s.durationMs === undefined ? '' : formatMs(s.durationMs)} |`),
    );
    if (r.leftToDo.length) lines.push('', '**Left to do:**', ...r.leftToDo.map((l) => `- ${cell(l)}`));
  } else {
    const said =
      result.kind === 'declined'
        ? 'declined, nothing changed'
        : result.kind === 'nothing-to-do'
          ? `nothing to do: ${result.message}`
          : `nothing to recover: no half-done ${procedure.name}`;
    lines.push(`### ${command}: ${said} (exit ${exitCode})`);
  }
  return redact(`${lines.join('\n')}\n\n`);
}

/** A command that ended in an error before or instead of a run (bad input, a refusal, no engine…). */
export const failureSummary = (command: string, message: string, exitCode: number): string =>
  redact(`### ${command}: ${failureWord(exitCode)} (exit ${exitCode})\n\n${cell(message)}\n\n`);

export async function appendSummary(file: string, text: string): Promise<void> {
  await appendFile(file, text);
}
