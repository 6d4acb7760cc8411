/** What a sandbox directory holds, recorded in DIR/sandbox.json so `down` stops exactly it. */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EnvironmentError } from '../errors.js';

export interface SandboxNode {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** Debian layout: started and stopped with these (pg_ctlcluster) instead of pg_ctl. */
  readonly service?: { readonly start: readonly string[]; readonly stop: readonly string[] };
  /** Container backend: its container (dataDir and logFile are paths inside it). */
  readonly container?: SandboxContainer;
}

export interface SandboxContainer {
  readonly name: string;
  /** Its fixed address on the cluster network, kept when a fault test reconnects it. */
  readonly clusterIp: string;
}

export interface SandboxPooler {
  readonly name: string;
  readonly port: number;
  readonly configFile: string;
  readonly pidFile: string;
  readonly logFile: string;
  readonly database: string;
  /** Container backend: its container (configFile, pidFile and logFile are paths inside it). */
  readonly container?: SandboxContainer;
}

/** With --router haproxy: HAProxy in TCP mode instead of PgBouncer (see haproxy.ts). */
export interface SandboxHaproxy {
  readonly name: string;
  readonly port: number;
  readonly bin: string;
  readonly configFile: string;
  /** Its runtime API (unix socket, level admin). */
  readonly socket: string;
  readonly pidFile: string;
  /** Its server-state-file, which the inventory names as state_file. */
  readonly stateFile: string;
  readonly frontend: string;
  readonly backend: string;
}

export interface SandboxManifest {
  readonly dir: string;
  readonly osUser?: string;
  readonly pgBin: string;
  readonly pgbouncerBin: string;
  readonly nodes: readonly SandboxNode[];
  readonly poolers: readonly SandboxPooler[];
  readonly haproxy?: SandboxHaproxy;
  /** With --upgrade-target M: a node on PostgreSQL M for upgrade-major, with its own binaries. */
  readonly upgradeTarget?: { readonly pgBin: string; readonly nodes: readonly SandboxNode[] };
  readonly inventoryFile: string;
  readonly passfile: string;
  /** 'debian': built with pg_createcluster, config under DIR/etc (see debian.ts). */
  readonly layout?: 'plain' | 'debian';
  /** With --tls: the CA the servers' certificate is signed by (the inventory verifies against it). */
  readonly tlsCaFile?: string;
  /** With --managed: the stand-in platform (control-plane.ts) and the tool's passfile without the superuser. */
  readonly managed?: {
    readonly promoteDelayMs: number;
    readonly passfile: string;
    /** node and control-plane-main.js: the hooks' first words. */
    readonly controlPlane: readonly string[];
  };
  readonly createdAt: string;
  /** 'containers': each server in its own container (see containers/up.ts); default 'local'. */
  readonly backend?: 'local' | 'containers';
  /** Container backend: what `down` removes (everything labelled with the id) and the networks faults cut. */
  readonly containers?: {
    readonly id: string;
    readonly image: string;
    readonly accessNetwork: string;
    readonly clusterNetwork: string;
  };
}

export const manifestPath = (dir: string): string => join(resolve(dir), 'sandbox.json');

export function readManifest(dir: string): SandboxManifest {
  const file = manifestPath(dir);
  if (!existsSync(file))
    throw new EnvironmentError(`no sandbox at ${resolve(dir)} (no sandbox.json); run \`pg-handover sandbox up\``);
  return JSON.parse(readFileSync(file, 'utf8')) as SandboxManifest;
}

export async function writeManifest(manifest: SandboxManifest): Promise<void> {
  await writeFile(manifestPath(manifest.dir), `${JSON.stringify(manifest, null, 2)}\n`);
}

export const defaultSandboxDir = (): string => resolve(process.env.PG_HANDOVER_SANDBOX ?? '.pg-handover/sandbox');
