/**
 * The run journal: one JSON object per line, appended synchronously so that a run killed with
 * SIGKILL still leaves every event it reached. Everything written is redacted.
 */
import { appendFileSync } from 'node:fs';
import { ensureDir } from '../util/fs.js';
import { dirname, join, resolve } from 'node:path';
import { formatLsn } from '../model/lsn.js';
import { redact } from '../util/secrets.js';

export class Journal {
  readonly file: string;

  constructor(
    dir: string,
    readonly runId: string,
  ) {
    const absolute = resolve(dir);
    ensureDir(absolute);
    this.file = journalFileFor(absolute, runId);
  }

  write(event: string, data: Record<string, unknown> = {}): void {
    const line = JSON.stringify(
      { at: new Date().toISOString(), runId: this.runId, event, ...data },
      (_key, value: unknown) => (typeof value === 'bigint' ? formatLsn(value) : value),
    );
    appendFileSync(this.file, `${redact(line)}\n`);
  }
}

export const journalFileFor = (dir: string, runId: string): string => join(resolve(dir), `${runId}.jsonl`);

/**
 * Where journals go unless told: beside the inventory, not in the working directory, so a second
 * run (or the guardian) started from anywhere finds the journal of a half-done run.
 */
export function defaultJournalDir(inventoryFile: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.PG_HANDOVER_JOURNAL_DIR) return env.PG_HANDOVER_JOURNAL_DIR;
  // A state directory shared by several inventories is fine: runs and lock files are per inventory file.
  if (env.PG_HANDOVER_STATE_DIR) return join(env.PG_HANDOVER_STATE_DIR, 'runs');
  return join(dirname(resolve(inventoryFile)), '.pg-handover', 'runs');
}

export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${Math.random().toString(36).slice(2, 8)}`;
}
