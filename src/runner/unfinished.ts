/**
 * Finds the last run against this inventory that did not finish: killed before its report, or
 * stopped past the point of no return. Its journal says who was primary, who the target was,
 * and whether promotion was ever requested.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { UnfinishedRun } from '../model/unfinished-run.js';
import { isAlive } from '../shell/processes.js';

export function findUnfinishedRun(journalDir: string, inventoryFile: string): UnfinishedRun | undefined {
  const dir = resolve(journalDir);
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .reverse();
  for (const name of files) {
    const events = readEvents(join(dir, name));
    const start = events.find((e) => e.event === 'run-start');
    if (!start || resolve(String(start.inventory)) !== resolve(inventoryFile)) continue;
    if (events.some((e) => e.event === 'recovered-by')) return undefined;
    const report = events.find((e) => e.event === 'report')?.report as { outcome?: string } | undefined;
    // A run that ended needing an operator (past the point of no return, or an undo that did not
    // restore service) is still to be finished or undone.
    if (report && report.outcome !== 'failed-after-promotion' && report.outcome !== 'undo-failed') return undefined;
    const pid = typeof start.pid === 'number' ? start.pid : undefined;
    const here = start.host === undefined || start.host === hostname();
    return {
      pid,
      alive: !report && here && pid !== undefined && pid !== process.pid && isAlive(pid),
      runId: String(start.runId),
      file: join(dir, name),
      procedure: typeof start.procedure === 'string' ? start.procedure : 'switchover',
      primary: String(start.primary),
      target: String(start.target),
      fenceMethod: typeof start.fenceMethod === 'string' ? start.fenceMethod : undefined,
      promoteRequested: promoteRequested(events),
      roleFence: roleFenceOf(events),
      paths: (start.paths ?? {}) as UnfinishedRun['paths'],
      lastEvent: describeEvent(events[events.length - 1]),
    };
  }
  return undefined;
}

function readEvents(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line) => {
      try {
        return line ? [JSON.parse(line) as Record<string, unknown>] : [];
      } catch {
        return []; // a line cut short by SIGKILL
      }
    });
}

const describeEvent = (event: Record<string, unknown> | undefined): string =>
  event ? [event.event, event.step].filter((part): part is string => typeof part === 'string').join(' ') : 'run-start';

/** The roles a role fence recorded before changing them (its 'role-fence' event), for the undo. */
function roleFenceOf(events: ReadonlyArray<Record<string, unknown>>): UnfinishedRun['roleFence'] {
  const event = events.find((e) => e.event === 'role-fence');
  if (!event || typeof event.node !== 'string' || !Array.isArray(event.roles)) return undefined;
  const roles = (event.roles as Array<Record<string, unknown>>).flatMap((r) =>
    typeof r.name === 'string' && typeof r.canLogin === 'boolean' && typeof r.connLimit === 'number'
      ? [{ name: r.name, canLogin: r.canLogin, connLimit: r.connLimit }]
      : [],
  );
  return { node: event.node, roles };
}

/**
 * Whether the run asked for promotion. The last word counts: a platform's promotion that never
 * started withdrew it; and a promote hook that was never spawned (the tool died between
 * journalling the point of no return and starting the platform's command) asked nobody.
 */
function promoteRequested(events: ReadonlyArray<Record<string, unknown>>): boolean {
  const last = events.findLastIndex(
    (e) => e.event === 'point-of-no-return' || e.event === 'point-of-no-return-withdrawn',
  );
  if (last < 0 || events[last]!.event !== 'point-of-no-return') return false;
  const after = events.slice(last + 1);
  const hookStarted = after.some(
    (e) => e.event === 'hook-start' && e.hook !== 'promote wait' && e.hook !== 'switchover wait',
  );
  const hookSpawned = after.some((e) => e.event === 'hook-spawned');
  const byHook = events[last]!.hook !== undefined;
  return !byHook || (hookStarted && hookSpawned);
}
