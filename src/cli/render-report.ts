/** The end-of-run report for people. */
import type { Report } from '../runner/report.js';
import { formatMs } from '../util/time.js';

/** `headline` is the procedure's own (procedures/<name>/index.ts). */
export function renderReport(report: Report, headline: string): string {
  const lines = [``, `${headline} (exit ${report.exitCode})`];
  if (report.recovers)
    lines.push(
      `  recovered:       run ${report.recovers} (${report.mode === 'finish' ? 'finished it' : 'undid its fence'})`,
    );
  if (report.error) lines.push(`  error:           ${report.error}`);
  if (report.verified) lines.push(`  verified now:    ${report.verified}`);
  lines.push(
    `  primary:         ${report.primaryNow}${report.primaryNow === report.oldPrimary ? ' (unchanged)' : ` (was ${report.oldPrimary})`}`,
  );
  if (report.writePauseMs !== undefined)
    lines.push(`  write pause:     ${formatMs(report.writePauseMs)} (pooler paused -> resumed)`);
  if (report.finalLsn)
    lines.push(`  final LSN:       ${report.finalLsn} on ${report.oldPrimary} (${report.finalLsnSource})`);
  if (report.possibleLoss) lines.push(`  data loss:       ${report.possibleLoss}`);
  if (report.targetReplayLsn) {
    lines.push(
      `  target replayed: ${report.targetReplayLsn} on ${report.target} when promoted${report.possibleLoss ? '' : ' (zero data loss: replayed >= final)'}`,
    );
  }
  if (report.newTimeline !== undefined)
    lines.push(`  timeline:        ${report.oldTimeline ?? '?'} -> ${report.newTimeline}`);
  for (const pooler of report.poolers)
    lines.push(`  pooler:          ${pooler.name} -> ${pooler.pointsAt}${pooler.paused ? ' (STILL PAUSED)' : ''}`);
  lines.push(`  old primary:     ${report.oldPrimary}: ${report.oldPrimaryState}`);
  for (const [node, state] of Object.entries(report.followers)) lines.push(`  replica:         ${node}: ${state}`);
  lines.push('  steps:');
  for (const step of report.steps) {
    lines.push(
      `    ${step.id.padEnd(24)} ${step.status.padEnd(8)} ${step.durationMs === undefined ? '' : formatMs(step.durationMs)}`,
    );
  }
  for (const note of report.notes) lines.push(`  note: ${note}`);
  if (report.leftToDo.length) {
    lines.push('  LEFT TO DO:');
    for (const item of report.leftToDo) lines.push(`    - ${item}`);
  }
  lines.push(`  journal: ${report.journal}`);
  return lines.join('\n');
}
