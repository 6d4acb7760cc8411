/** Small file-system helpers. */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * mkdir -p, one level at a time. Node's own recursive mkdirSync spins forever at full CPU on
 * some paths (seen here under /proc), so a bad --journal-dir would hang the tool instead of failing.
 */
export function ensureDir(path: string): void {
  const absolute = resolve(path);
  if (existsSync(absolute)) return;
  const parent = dirname(absolute);
  if (parent !== absolute) ensureDir(parent);
  mkdirSync(absolute);
}
