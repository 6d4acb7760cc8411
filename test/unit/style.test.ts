/**
 * Lint and format are checked by standard tools (`npm run lint`: ESLint with typescript-eslint's
 * type-checked rules, then Prettier), in CI. This proves each one refuses a planted violation, so
 * a misconfiguration that checks nothing cannot pass unnoticed.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import * as prettier from 'prettier';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const planted = join(root, 'test', `planted-${process.pid}`);
afterAll(() => rmSync(planted, { recursive: true, force: true }));

describe('lint and format (ESLint, Prettier)', () => {
  it('ESLint refuses a promise nobody awaits, by its type-checked rule', async () => {
    mkdirSync(planted, { recursive: true });
    const file = join(planted, 'floating.ts');
    writeFileSync(
      file,
      'export async function act(): Promise<void> {}\nexport function caller(): void {\n  act();\n}\n',
    );
    const [result] = await new ESLint({ cwd: root }).lintFiles([file]);
    expect(result!.messages.map((m) => m.ruleId ?? m.message)).toContain('@typescript-eslint/no-floating-promises');
  }, 60_000);

  it('Prettier refuses a file not in its format, and accepts it formatted', async () => {
    const filepath = join(root, 'src', 'planted.ts');
    const options = { ...(await prettier.resolveConfig(filepath)), filepath };
    const messy = 'export const  x = {a:1,\n  b : "two"}\n';
    expect(await prettier.check(messy, options)).toBe(false);
    expect(await prettier.check(await prettier.format(messy, options), options)).toBe(true);
  });
});
