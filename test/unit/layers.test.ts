/**
 * The import rules that keep the layers apart, checked on the source: the model and the pure
 * decisions import no adapter (Postgres, PgBouncer, processes, file system), and nothing outside
 * the CLI imports the CLI.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
const importsOf = (file: string): string[] => [...readFileSync(file, 'utf8').matchAll(/^import [^;]*? from '([^']+)';/gms)].map((m) => m[1]!);

describe('layers', () => {
  it.each(['src/model', 'src/decide'])('%s imports only the model, util and the inventory model', (dir) => {
    const allowed = /^(\.\/|\.\.\/model\/|\.\.\/util\/|\.\.\/inventory\/(model|dsn)\.js$|node:path$)/;
    const bad = files(dir).flatMap((f) => importsOf(f).filter((i) => !allowed.test(i)).map((i) => `${f}: ${i}`));
    expect(bad).toEqual([]);
  });

  it('nothing outside src/cli imports the CLI', () => {
    const bad = files('src').filter((f) => !f.startsWith('src/cli')).flatMap((f) => importsOf(f).filter((i) => i.includes('/cli/')).map((i) => `${f}: ${i}`));
    expect(bad).toEqual([]);
  });
});
