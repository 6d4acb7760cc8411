/** The built CLI bundle (`npm run build`, which `npm test` runs first): what it loads at start-up. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('start-up of the CLI bundle', () => {
  it('imports testcontainers (half a second to load) only on demand, never at start-up', () => {
    const bundle = readFileSync('dist/pg-handover.mjs', 'utf8'); // built by `npm test` / `npm run build` first
    expect(bundle.split('\n').filter((line) => /^import .* from "testcontainers";$/.test(line))).toEqual([]);
    expect(bundle).toContain('await import("testcontainers")');
  });
});
