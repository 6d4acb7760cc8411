/** The fleet contract's schema (schemas/run-end.schema.json) takes what the CLI prints and refuses what a gate could not read. */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { exitCodeOfOutcome } from '../../src/exit-codes.js';

const validate = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync('schemas/run-end.schema.json', 'utf8')));
const report = (over: Record<string, unknown> = {}) => ({
  event: 'report',
  report: {
    runId: 'R1',
    mode: 'failover',
    outcome: 'degraded',
    exitCode: 8,
    oldPrimary: 'pg1',
    target: 'pg2',
    primaryNow: 'pg2',
    steps: [{ id: '1-confirm-failure', title: 'confirm pg1 is down', status: 'done', durationMs: 2 }],
    poolers: [{ name: 'pgb', pointsAt: 'pg2', paused: false }],
    verified: 'pg2 is the only writable primary; pgb -> pg2; pg1 down (connection refused)',
    oldPrimaryState: 'fenced (down)',
    followers: { pg3: 'did not follow pg2 within 10.00 s: to check' },
    notes: [],
    leftToDo: ['make pg3 stream from pg2'],
    journal: '/j/R1.jsonl',
    totalMs: 1200,
    writePauseMs: 40,
    finalLsn: '0/5000518',
    ...over,
  },
});

describe('the run-end schema', () => {
  it('takes a report, nothing to do, a dry run verdict and an error', () => {
    for (const event of [
      report(),
      { event: 'done', message: 'every node already runs 15.18' },
      { event: 'verdict', ready: true, failing: [], elapsedMs: 300 },
      { event: 'error', exitCode: 3, message: 'preflight refused: witnesses: …' },
    ]) {
      expect(validate(event), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  it('every outcome has an exit code the schema knows', () => {
    for (const [outcome, exitCode] of Object.entries(exitCodeOfOutcome))
      expect(validate(report({ outcome, exitCode })), outcome).toBe(true);
  });

  it('refuses an unknown outcome or exit code, a missing gate field, a malformed LSN', () => {
    expect(validate(report({ outcome: 'ok' }))).toBe(false);
    expect(validate(report({ exitCode: 9 }))).toBe(false);
    expect(validate({ event: 'report', report: { ...report().report, leftToDo: undefined } })).toBe(false);
    expect(validate(report({ finalLsn: '5000518' }))).toBe(false);
  });
});
