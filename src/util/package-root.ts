/**
 * The package's own directory (where playbooks/ and dist/ live), found from this module's
 * location: it works the same from the compiled files in dist/ and from the one-file CLI bundle.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function find(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'pg-handover'
    )
      return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('pg-handover: cannot find its package directory');
    dir = parent;
  }
}

let root: string | undefined;

export const packageRoot = (): string => (root ??= find());

/** A built-in playbook, playbooks/<name>.yaml. */
export const builtInPlaybook = (name: string): string => join(packageRoot(), 'playbooks', `${name}.yaml`);
