/**
 * A run (or a wave of runs) as Markdown and as one self-contained HTML page: no script, no
 * external asset, so it opens anywhere, offline, and can be attached to a postmortem. The
 * timeline is an inline SVG: one bar per step on the run's clock, the time clients were held
 * shaded behind them. Pure.
 */
import { redact } from '../../util/secrets.js';
import type { RunSummary, StepLine } from './summary.js';

const ms = (n: number | undefined) =>
  n === undefined ? '?' : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`;
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderMarkdown(runs: readonly RunSummary[]): string {
  const lines: string[] = [];
  if (runs.length > 1) {
    lines.push(
      '# pg-handover: a wave of runs',
      '',
      '| cluster (inventory) | procedure | outcome | exit | clients held | verified end state |',
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const r of runs)
      lines.push(
        `| ${cell(r.inventory)} | ${r.procedure} | ${r.outcome} | ${r.exitCode ?? '?'} | ${ms(r.writePauseMs)} | ${cell(r.verified ?? 'not verified')} |`,
      );
    lines.push('');
  }
  for (const r of runs) {
    lines.push(
      `## ${r.procedure} ${r.oldPrimary} -> ${r.target}: ${r.outcome}${r.exitCode === undefined ? '' : ` (exit ${r.exitCode})`}`,
      '',
    );
    lines.push(`- run: \`${r.runId}\`, started ${r.startedAt}, inventory \`${r.inventory}\``);
    lines.push(`- verified end state: ${r.verified ?? 'not verified'}`);
    lines.push(
      `- clients held: ${r.held ? `${ms(r.writePauseMs)} (from ${ms(r.held.fromMs)} to ${ms(r.held.toMs)} on the run's clock)` : 'never'}`,
    );
    if (r.finalLsn)
      lines.push(
        `- LSN proof: the old primary's final position ${r.finalLsn} (${r.finalLsnSource ?? ''})${r.targetReplayLsn ? `; the target had replayed ${r.targetReplayLsn} when promoted` : '; never promoted'}`,
      );
    if (r.possibleLoss) lines.push(`- data loss: ${r.possibleLoss}`);
    if (r.rolledBack) lines.push(`- rolled back: ${r.rolledBack}`);
    lines.push('', '| step | started | took | status | what it did |', '| --- | --- | --- | --- | --- |');
    for (const s of r.steps)
      lines.push(
        `| ${s.id} ${cell(s.title)} | +${ms(s.startMs)} | ${ms(s.durationMs)} | ${s.status} | ${cell(s.said ?? '')} |`,
      );
    if (r.leftToDo.length) lines.push('', '**Left to do:**', ...r.leftToDo.map((l) => `- ${l}`));
    if (r.notes.length) lines.push('', '**Notes:**', ...r.notes.map((l) => `- ${l}`));
    lines.push('');
  }
  return redact(lines.join('\n'));
}

const esc = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const COLOR: Record<StepLine['status'], string> = {
  done: '#2f7d32',
  failed: '#c62828',
  skipped: '#9e9e9e',
  undone: '#ef6c00',
  started: '#6a1b9a',
};

function timeline(r: RunSummary): string {
  const end = Math.max(1, ...r.steps.map((s) => s.startMs + s.durationMs), r.held?.toMs ?? 0);
  const width = 720;
  const label = 230;
  const row = 22;
  const x = (t: number) => label + (t / end) * (width - label - 10);
  const height = r.steps.length * row + 30;
  const held = r.held
    ? `<rect class="held" x="${x(r.held.fromMs)}" y="0" width="${Math.max(2, x(r.held.toMs) - x(r.held.fromMs))}" height="${height - 20}" fill="#fff3cd"><title>clients held ${ms(r.writePauseMs)}</title></rect>`
    : '';
  const bars = r.steps
    .map((s, i) => {
      const y = i * row + 4;
      return (
        `<text x="4" y="${y + 14}" font-size="12">${esc(`${s.id}`)}</text>` +
        `<rect class="step" data-step="${esc(s.id)}" x="${x(s.startMs)}" y="${y}" width="${Math.max(2, x(s.startMs + s.durationMs) - x(s.startMs))}" height="16" fill="${COLOR[s.status]}"><title>${esc(`${s.title}: ${ms(s.durationMs)}, ${s.status}`)}</title></rect>`
      );
    })
    .join('');
  return (
    `<svg role="img" aria-label="timeline" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${held}${bars}` +
    `<text x="${label}" y="${height - 6}" font-size="11">0</text><text x="${width - 60}" y="${height - 6}" font-size="11">${ms(end)}</text></svg>`
  );
}

function runSection(r: RunSummary): string {
  const facts: Array<[string, string]> = [
    ['verified end state', r.verified ?? 'not verified'],
    ['clients held', r.held ? `${ms(r.writePauseMs)} (from +${ms(r.held.fromMs)} to +${ms(r.held.toMs)})` : 'never'],
    ...(r.finalLsn
      ? [
          [
            'LSN proof',
            `final position ${r.finalLsn} (${r.finalLsnSource ?? ''})${r.targetReplayLsn ? `; the target had replayed ${r.targetReplayLsn} when promoted` : '; never promoted'}`,
          ] as [string, string],
        ]
      : []),
    ...(r.possibleLoss ? [['data loss', r.possibleLoss] as [string, string]] : []),
    ...(r.rolledBack ? [['rolled back', r.rolledBack] as [string, string]] : []),
    ['run', `${r.runId}, started ${r.startedAt}, inventory ${r.inventory}`],
  ];
  return (
    `<section class="run"><h2><span class="verdict" data-outcome="${esc(r.outcome)}">${esc(r.outcome)}${r.exitCode === undefined ? '' : ` (exit ${r.exitCode})`}</span> ${esc(`${r.procedure} ${r.oldPrimary} → ${r.target}`)}</h2>` +
    `<dl>${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd class="${esc(k.replace(/\s/g, '-'))}">${esc(v)}</dd>`).join('')}</dl>${timeline(r)}` +
    `<table><thead><tr><th>step</th><th>started</th><th>took</th><th>status</th><th>what it did</th></tr></thead><tbody>${r.steps
      .map(
        (s) =>
          `<tr class="step-row"><td>${esc(`${s.id} ${s.title}`)}</td><td>+${ms(s.startMs)}</td><td>${ms(s.durationMs)}</td><td class="${s.status}">${s.status}</td><td>${esc(s.said ?? '')}</td></tr>`,
      )
      .join('')}</tbody></table>` +
    (r.leftToDo.length ? `<h3>Left to do</h3><ul>${r.leftToDo.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>` : '') +
    (r.notes.length ? `<h3>Notes</h3><ul>${r.notes.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>` : '') +
    '</section>'
  );
}

export function renderHtml(runs: readonly RunSummary[]): string {
  const wave =
    runs.length > 1
      ? `<table class="wave"><thead><tr><th>cluster (inventory)</th><th>procedure</th><th>outcome</th><th>exit</th><th>clients held</th><th>verified end state</th></tr></thead><tbody>${runs
          .map(
            (r) =>
              `<tr><td>${esc(r.inventory)}</td><td>${esc(r.procedure)}</td><td>${esc(r.outcome)}</td><td>${r.exitCode ?? '?'}</td><td>${ms(r.writePauseMs)}</td><td>${esc(r.verified ?? 'not verified')}</td></tr>`,
          )
          .join('')}</tbody></table>`
      : '';
  const title =
    runs.length > 1
      ? `pg-handover: a wave of ${runs.length} runs`
      : `pg-handover: ${runs[0]?.procedure ?? 'run'} ${runs[0]?.outcome ?? ''}`;
  return redact(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>` +
      '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">' +
      '<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}' +
      'dt{font-weight:bold;float:left;clear:left;width:11em}dd{margin-left:12em}.failed{color:#c62828}.verdict{padding:2px 6px;border-radius:4px;background:#eee}</style></head>' +
      `<body><h1>${esc(title)}</h1>${wave}${runs.map(runSection).join('')}</body></html>`,
  );
}
