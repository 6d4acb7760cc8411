/**
 * The import rules that keep the layers apart, checked on the source: the model and the pure
 * decisions import no adapter (Postgres, PgBouncer, processes, file system); nothing outside the
 * CLI imports the CLI; a router kind is reached only through src/routers/ (its interface and
 * registry); procedures act through steps, never through an adapter; steps do not import each
 * other.
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

  it('nothing outside src/routers imports a router kind (PgBouncer) directly', () => {
    const bad = files('src').filter((f) => !f.startsWith('src/routers/')).flatMap((f) => importsOf(f).filter((i) => /routers\/(?!registry\.js$|types\.js$)/.test(i)).map((i) => `${f}: ${i}`));
    expect(bad).toEqual([]);
  });

  it('procedures import no adapter: they decide and plan, the steps act', () => {
    const adapter = /\/(postgres|shell|cluster)\/|\/routers\/(?!registry\.js$|types\.js$)/;
    const bad = files('src/procedures').flatMap((f) => importsOf(f).filter((i) => adapter.test(i)).map((i) => `${f}: ${i}`));
    expect(bad).toEqual([]);
  });

  it('a step kind imports no other step kind (shared code lives in support modules)', () => {
    const support = new Set(['types', 'outputs', 'registry', 'fence-modes', 'fence-undo', 'routing', 'upstream', 'poll', 'logical']);
    const kinds = files('src/steps').map((f) => f.replace(/^src\/steps\/|\.ts$/g, '')).filter((name) => !support.has(name));
    expect(kinds.length).toBeGreaterThan(10);
    const bad = kinds.flatMap((kind) => importsOf(`src/steps/${kind}.ts`)
      .filter((i) => i.startsWith('./') && !support.has(i.slice(2).replace(/\.js$/, '')))
      .map((i) => `src/steps/${kind}.ts: ${i}`));
    expect(bad).toEqual([]);
  });
});

describe('start-up of the CLI bundle', () => {
  it('imports testcontainers (half a second to load) only on demand, never at start-up', () => {
    const bundle = readFileSync('dist/pg-handover.mjs', 'utf8'); // built by `npm test` / `npm run build` first
    expect(bundle.split('\n').filter((line) => /^import .* from "testcontainers";$/.test(line))).toEqual([]);
    expect(bundle).toContain('await import("testcontainers")');
  });
});
