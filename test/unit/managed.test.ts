/**
 * A managed estate's safety-critical pieces, without a database: the point of no return withdrawn
 * only for a platform's promotion that never started; the role fence's preflight; a role-fenced
 * primary is not a writer; the undo's statement gives back exactly what was recorded; the
 * journal's record of a role fence and of a withdrawal.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forPlatformSwitchover, roleFenceChecks } from '../../src/decide/managed.js';
import { PromotionNotStartedError, StepFailedError } from '../../src/errors.js';
import { hookWords } from '../../src/inventory/model.js';
import { isFenced, primariesOf } from '../../src/model/cluster-state.js';
import type { RoleFenceView } from '../../src/model/node.js';
import { isWritable } from '../../src/model/writability.js';
import { restoreRoleSql } from '../../src/postgres/role-fence.js';
import { markingNoReturn } from '../../src/runner/run.js';
import { findUnfinishedRun } from '../../src/runner/unfinished.js';
import type { StepContext } from '../../src/steps/types.js';
import { cluster, inventory, primary, replica } from './support/cluster-fixtures.js';

const view = (over: Partial<RoleFenceView> = {}): RoleFenceView => ({
  tool: 'platform_admin',
  signalBackend: true,
  monitor: true,
  markerWritable: true,
  declared: false,
  roles: [{ name: 'app', canLogin: true, connLimit: -1, superuser: false, alterable: true, sessions: 3 }],
  ...over,
});

describe('the point of no return of a promotion by a platform', () => {
  const run = async (error: Error) => {
    const events: Array<[string, unknown]> = [];
    const ctx = {
      noReturn: { requested: false, confirmed: false },
      record: (event: string, data: unknown) => events.push([event, data]),
    } as unknown as StepContext;
    const [action] = markingNoReturn<object>([
      {
        text: 'hook',
        noReturn: () => ({ target: 'pg2' }),
        run: async () => {
          throw error;
        },
      },
    ]);
    await expect(action!.run!(ctx, {})).rejects.toThrow(error.message);
    return { requested: ctx.noReturn.requested, events: events.map(([e]) => e) };
  };

  it('is withdrawn, and journalled so, when the platform never started it (the run rolls back)', async () => {
    expect(await run(new PromotionNotStartedError('hook failed; pg2 is still a replica'))).toEqual({
      requested: false,
      events: ['point-of-no-return', 'point-of-no-return-withdrawn'],
    });
  });

  it('stays crossed for any other failure (a promotion in doubt rolls forward)', async () => {
    expect(await run(new StepFailedError('pg2 does not answer'))).toEqual({
      requested: true,
      events: ['point-of-no-return'],
    });
  });

  it("a half-done run's journal: the last word on the point of no return counts, and the role fence's record is read back", () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgh-unit-'));
    const lines = [
      { event: 'run-start', runId: 'r1', inventory: '/x/inventory.yaml', primary: 'pg1', target: 'pg2', pid: 999999 },
      { event: 'role-fence', node: 'pg1', roles: [{ name: 'app', canLogin: true, connLimit: 37 }] },
      { event: 'point-of-no-return', target: 'pg2' },
      { event: 'point-of-no-return-withdrawn', reason: 'hook failed' },
    ];
    writeFileSync(join(dir, 'r1.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const found = findUnfinishedRun(dir, '/x/inventory.yaml')!;
    expect(found.promoteRequested).toBe(false);
    expect(found.roleFence).toEqual({ node: 'pg1', roles: [{ name: 'app', canLogin: true, connLimit: 37 }] });
    writeFileSync(
      join(dir, 'r1.jsonl'),
      [...lines, { event: 'point-of-no-return', target: 'pg2' }].map((l) => JSON.stringify(l)).join('\n') + '\n',
    );
    expect(findUnfinishedRun(dir, '/x/inventory.yaml')!.promoteRequested).toBe(true);
    // A promote hook journalled but never started asked nobody: not requested (the guardian undoes).
    const byHook = [lines[0]!, lines[1]!, { event: 'point-of-no-return', target: 'pg2', hook: 'promote' }];
    const write = (extra: object[]) =>
      writeFileSync(join(dir, 'r1.jsonl'), [...byHook, ...extra].map((l) => JSON.stringify(l)).join('\n') + '\n');
    write([{ event: 'hook-start', hook: 'promote' }]);
    expect(findUnfinishedRun(dir, '/x/inventory.yaml')!.promoteRequested).toBe(false);
    write([
      { event: 'hook-start', hook: 'promote' },
      { event: 'hook-spawned', hook: 'promote', pid: 42 },
    ]);
    expect(findUnfinishedRun(dir, '/x/inventory.yaml')!.promoteRequested).toBe(true);
  });
});

describe('the role fence', () => {
  it('preflight passes with roles the tool may alter, pg_signal_backend and the marker', () => {
    expect(roleFenceChecks(primary('pg1', { roleFence: view() })).map((c) => c.verdict)).toEqual(['pass']);
  });

  it.each([
    ['no role to fence', { roles: [] }, /no application role found/],
    [
      "the tool's own role",
      { roles: [{ ...view().roles[0]!, name: 'platform_admin' }] },
      /platform_admin is one of them/,
    ],
    ['a superuser', { roles: [{ ...view().roles[0]!, superuser: true, alterable: true }] }, /superuser/],
    ['a role it may not alter', { roles: [{ ...view().roles[0]!, alterable: false }] }, /may not ALTER ROLE app/],
    ['no pg_signal_backend', { signalBackend: false }, /lacks pg_signal_backend/],
    ['no marker', { markerWritable: false }, /cannot write the catch-up marker/],
  ])('preflight refuses %s, in one line', (_what, over, message) => {
    const [check] = roleFenceChecks(primary('pg1', { roleFence: view(over) }));
    expect(check!.verdict).toBe('fail');
    expect(check!.message).toMatch(message);
  });

  it('a primary whose application roles are all NOLOGIN takes no application writes: not a second writer', () => {
    const fenced = primary('pg1', { roleFence: view({ roles: [{ ...view().roles[0]!, canLogin: false }] }) });
    const promoted = primary('pg2', { roleFence: view() });
    expect(isFenced(fenced)).toBe(true);
    expect(isFenced(promoted)).toBe(false);
    expect(primariesOf(cluster([fenced, promoted, replica('pg3')])).map((n) => n.name)).toEqual(['pg2']);
    expect(isWritable({ inRecovery: false, readOnly: false, rolesFenced: true })).toBe(false);
    expect(isWritable({ inRecovery: false, readOnly: false, rolesFenced: false })).toBe(true);
  });

  it('the undo gives back exactly what was recorded: LOGIN or not, and the connection limit', () => {
    expect(restoreRoleSql({ name: 'app', canLogin: true, connLimit: 37 })).toBe(
      'ALTER ROLE app LOGIN CONNECTION LIMIT 37',
    );
    expect(restoreRoleSql({ name: 'Odd"Name', canLogin: false, connLimit: -1 })).toBe(
      'ALTER ROLE "Odd""Name" NOLOGIN CONNECTION LIMIT -1',
    );
  });
});

describe('hooks and the platform switchover', () => {
  it("substitute the node's name and platform id", () => {
    const node = { ...inventory(false).nodes[1]!, platformId: 'prod-db-2' };
    expect(
      hookWords(node, ['gcloud', 'sql', 'instances', 'promote-replica', '{platform_id}', '--node={node}']),
    ).toEqual(['gcloud', 'sql', 'instances', 'promote-replica', 'prod-db-2', '--node=pg2']);
    expect(hookWords({ ...node, platformId: undefined }, ['x', '{platform_id}'])).toEqual(['x', 'pg2']);
  });

  it('refuses a pooler that would drop waiting clients before the platform is done', () => {
    const checks = forPlatformSwitchover([
      { id: 'pooler-query-wait-timeout', verdict: 'warn', message: 'query_wait_timeout 10 s is shorter' },
      { id: 'other', verdict: 'warn', message: 'kept' },
    ]);
    expect(checks.map((c) => c.verdict)).toEqual(['fail', 'warn']);
  });
});
