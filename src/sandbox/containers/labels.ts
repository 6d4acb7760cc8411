/**
 * Every container and network of a container sandbox carries its id and directory as labels:
 * `down` removes by id, and a sandbox whose directory is gone (a crashed test run) is removed by
 * the next `up`. testcontainers' own reaper is not used (its image cannot be pulled here).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../shell/exec.js';
import { deleteRules } from './faults.js';

const ID = 'pg-handover.sandbox';
const DIR = 'pg-handover.dir';

export const containerLabels = (id: string, dir: string): Record<string, string> => ({ [ID]: id, [DIR]: dir });

async function lines(argv: string[]): Promise<string[]> {
  const result = await run(argv, { timeoutMs: 30_000 });
  return result.ok
    ? result.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
    : [];
}

/** Removes the containers and networks labelled with `id`; returns the containers' names. */
export async function removeSandbox(id: string): Promise<string[]> {
  const containers = await lines(['docker', 'ps', '-a', '--filter', `label=${ID}=${id}`, '--format', '{{.Names}}']);
  if (containers.length) await run(['docker', 'rm', '-f', '-v', ...containers], { timeoutMs: 60_000 });
  const networks = await lines(['docker', 'network', 'ls', '--filter', `label=${ID}=${id}`, '--format', '{{.Name}}']);
  if (networks.length) await run(['docker', 'network', 'rm', ...networks], { timeoutMs: 60_000 });
  await deleteRules(`pgh-${id}-`);
  return containers;
}

/** Container sandboxes whose directory (or its sandbox.json) is gone: left by a run that crashed. */
export async function pruneStaleSandboxes(): Promise<string[]> {
  const rows = await lines([
    'docker',
    'ps',
    '-a',
    '--filter',
    `label=${ID}`,
    '--format',
    `{{.Label "${ID}"}} {{.Label "${DIR}"}}`,
  ]);
  const networks = await lines([
    'docker',
    'network',
    'ls',
    '--filter',
    `label=${ID}`,
    '--format',
    `{{.Label "${ID}"}} {{.Label "${DIR}"}}`,
  ]);
  const stale = new Set(
    [...rows, ...networks]
      .map((row) => row.split(' '))
      .filter(([, dir]) => !dir || !existsSync(join(dir, 'sandbox.json')))
      .map(([id]) => id!),
  );
  for (const id of stale) await removeSandbox(id);
  return [...stale];
}
