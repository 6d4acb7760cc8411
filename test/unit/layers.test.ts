/**
 * The import rules of ARCHITECTURE.md are checked by dependency-cruiser (.dependency-cruiser.cjs,
 * `npm run lint:deps`, part of `npm test`). Here: the source passes, and a copy of it with one
 * planted violation of each rule (a re-export, a dynamic import, `pg` in a procedure, a step
 * importing a procedure, a router importing a step, an adapter importing a procedure, an adapter
 * reached two imports deep, a step kind importing another, the inventory importing an adapter)
 * is refused, naming each rule.
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;
const cruise = (cwd: string) =>
  execa('npx', ['depcruise', 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], {
    cwd,
    reject: false,
  });

const PLANTED: Record<string, [string, string]> = {
  'model-is-data': ['src/model/planted.ts', "export { NodeSession } from '../postgres/session.js';\n"],
  'decide-is-pure': ['src/decide/planted.ts', "export const later = () => import('../postgres/session.js');\n"],
  'procedures-import-no-adapter': [
    'src/procedures/switchover/planted.ts',
    "import pg from 'pg';\nexport const client = pg.Client;\n",
  ],
  'steps-import-no-procedure': [
    'src/steps/planted.ts',
    "export { switchover } from '../procedures/switchover/index.js';\n",
  ],
  'routers-import-no-step': ['src/routers/planted.ts', "export { STEP_DEFINITIONS } from '../steps/registry.js';\n"],
  'adapters-import-no-procedure': [
    'src/postgres/planted.ts',
    "export { procedureEntry } from '../procedures/catalog.js';\n",
  ],
  'pure-all-the-way-down': ['src/util/planted-deep.ts', "import pg from 'pg';\nexport const deep = pg;\n"],
  'step-kinds-are-independent': ['src/steps/planted-kind.ts', "export { promoteStep } from './promote.js';\n"],
  'inventory-imports-no-adapter': ['src/inventory/planted.ts', "export { tlsAttempts } from '../postgres/tls.js';\n"],
};

describe('layers (dependency-cruiser)', () => {
  it('the source follows every rule', async () => {
    const result = await cruise(ROOT);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
  }, 60_000);

  it('a planted violation of each rule is refused by name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgh-layers-'));
    try {
      cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
      for (const file of ['tsconfig.json', '.dependency-cruiser.cjs', 'package.json'])
        cpSync(join(ROOT, file), join(dir, file));
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      for (const [file, text] of Object.values(PLANTED)) writeFileSync(join(dir, file), text);
      // Two imports deep: decide -> util -> pg.
      writeFileSync(join(dir, 'src/decide/planted-chain.ts'), "export { deep } from '../util/planted-deep.js';\n");
      const result = await cruise(dir);
      expect(result.exitCode).not.toBe(0);
      for (const rule of Object.keys(PLANTED)) expect(result.stdout + result.stderr, rule).toContain(`error ${rule}:`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
