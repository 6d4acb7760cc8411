/** `pg-handover sandbox up|down|status`. */
import { join, resolve } from 'node:path';
import { BadInputError } from '../errors.js';
import { sandboxDown } from '../sandbox/down.js';
import { defaultSandboxDir, readManifest } from '../sandbox/manifest.js';
import { sandboxUp } from '../sandbox/up.js';
import { formatMs, parseDuration } from '../util/time.js';
import { out, outJson, say } from './output.js';
import { intFlag } from './parse.js';
import { statusCommand } from './status-command.js';

export interface UpFlags {
  replicas: string;
  poolers: string;
  dir?: string;
  pgBin?: string;
  osUser: string;
  layout?: 'plain' | 'debian';
  tls?: boolean;
  backend?: 'local' | 'containers';
  router?: 'pgbouncer' | 'haproxy';
  upgradeTarget?: string;
  replicationAuth?: 'password' | 'trust';
  managed?: boolean;
  promoteDelay?: string;
  json?: boolean;
}

export async function sandboxUpCommand(flags: UpFlags): Promise<void> {
  const replicas = intFlag('replicas', flags.replicas, 1, 8)!;
  const poolers = intFlag('poolers', flags.poolers, 1, 4)!;
  const dir = resolve(flags.dir ?? defaultSandboxDir());
  const upgradeTarget = intFlag('upgrade-target', flags.upgradeTarget, 16, 99);
  if (upgradeTarget && flags.backend === 'containers')
    throw new BadInputError('--upgrade-target: expected the local backend', 'upgrade-target');
  if (flags.replicationAuth === 'trust' && flags.backend === 'containers')
    throw new BadInputError('--replication-auth trust: expected the local backend', 'replication-auth');
  if (flags.router === 'haproxy' && flags.backend === 'containers')
    throw new BadInputError(
      '--router haproxy: expected the local backend (HAProxy has no container image yet)',
      'router',
    );
  if (flags.managed && (flags.backend === 'containers' || flags.router === 'haproxy' || upgradeTarget))
    throw new BadInputError('--managed: expected the local backend with PgBouncer', 'managed');
  const promoteDelayMs = parseDuration(flags.promoteDelay ?? '2s');
  if (promoteDelayMs === undefined)
    throw new BadInputError(
      `--promote-delay: expected a duration such as 2s, got ${flags.promoteDelay}`,
      'promote-delay',
    );
  const { manifest, elapsedMs } = await sandboxUp({
    dir,
    replicas,
    poolers,
    pgBin: flags.pgBin,
    osUser: flags.osUser,
    layout: flags.layout,
    tls: flags.tls,
    backend: flags.backend,
    router: flags.router,
    upgradeTarget,
    replicationAuth: flags.replicationAuth,
    ...(flags.managed ? { managed: { promoteDelayMs } } : {}),
    onProgress: (m) => say(`  ${m}`),
  });
  if (flags.json) {
    outJson({ event: 'sandbox-up', dir, inventory: manifest.inventoryFile, elapsedMs: Math.round(elapsedMs) });
    return;
  }
  const primary = manifest.nodes[0]!;
  say(
    `sandbox up in ${formatMs(elapsedMs)}${manifest.containers ? ` (containers pgh-${manifest.containers.id}-*)` : ''}: primary ${primary.name} (127.0.0.1:${primary.port}), ` +
      `${manifest.nodes.length - 1} replicas, ${[...manifest.poolers, ...(manifest.haproxy ? [manifest.haproxy] : [])].map((p) => `${p.name} on 127.0.0.1:${p.port}`).join(', ')}`,
  );
  for (const node of manifest.upgradeTarget?.nodes ?? [])
    out(`upgrade:   ${node.name} on 127.0.0.1:${node.port} (${manifest.upgradeTarget!.pgBin})`);
  out(`inventory: ${manifest.inventoryFile}`);
  if (manifest.managed)
    out(
      `managed:   no shell, no superuser; promotion by the stand-in control plane in ${formatMs(manifest.managed.promoteDelayMs)} (${join(dir, 'control-plane', 'config.json')})`,
    );
  out(
    `connect:   PGPASSFILE=${manifest.passfile} psql "host=127.0.0.1 port=${(manifest.haproxy ?? manifest.poolers[0]!).port} user=app dbname=appdb"`,
  );
  out(`next:      pg-handover sandbox status --dir ${dir}`);
  out(`           pg-handover switchover --inventory ${manifest.inventoryFile} --dry-run`);
}

export interface DownFlags {
  dir?: string;
  keep?: boolean;
}
export interface SandboxStatusFlags {
  dir?: string;
  json?: boolean;
}

export async function sandboxDownCommand(flags: DownFlags): Promise<void> {
  const dir = resolve(flags.dir ?? defaultSandboxDir());
  const result = await sandboxDown(dir, { keep: flags.keep });
  say(
    `sandbox down in ${formatMs(result.elapsedMs)}: stopped ${result.stopped.join(', ') || 'nothing (not running)'}` +
      `${flags.keep ? '' : `; removed ${dir}`}`,
  );
}

export async function sandboxStatusCommand(flags: SandboxStatusFlags): Promise<void> {
  const manifest = readManifest(resolve(flags.dir ?? defaultSandboxDir()));
  await statusCommand({ inventory: manifest.inventoryFile, json: flags.json });
}
