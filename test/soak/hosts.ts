/**
 * What the soak does to the cluster's hosts, for each backend: processes on this machine (local),
 * or each node and pooler on its own container (containers), where a fault can also cut a host's
 * network link. Every process is found by its pid file (never by name).
 */
import { join } from 'node:path';
import type { SandboxManifest } from '../../src/sandbox/manifest.js';
import { SANDBOX_USERS } from '../../src/sandbox/files.js';
import {
  freezeNode,
  pgbouncerPid,
  postmasterPid,
  recloneReplica,
  startNode,
  startPgBouncer,
  thawNode,
} from '../../src/sandbox/control.js';
import {
  cutLink,
  hostRunning,
  onHost,
  pauseHost,
  restoreLink,
  unpauseHost,
  type Link,
} from '../../src/sandbox/containers/faults.js';
import { run } from '../../src/shell/exec.js';
import { childrenOf, commandLine, signal } from '../../src/shell/processes.js';
import { sleep } from '../../src/util/time.js';

/** Undoes what a fault did (a frozen process continued, a cut link restored). */
export type Heal = () => Promise<void>;

export interface SoakHosts {
  readonly kind: 'local' | 'containers';
  /** SIGKILL to the node's postmaster; false when it was not running. */
  killPostmaster(node: string): Promise<boolean>;
  /** Every process of the node stopped (a hung server or host). */
  freeze(node: string): Promise<Heal>;
  startNode(node: string): Promise<void>;
  /** The node's WAL receiver stopped for a while; undefined when it has none. */
  stopReceiver(node: string): Promise<Heal | undefined>;
  killPooler(name: string): Promise<boolean>;
  startPooler(name: string): Promise<void>;
  freezePooler(name: string): Promise<Heal | undefined>;
  /** A fresh replica of `primary` (what a report says when pg_rewind cannot); why it failed. */
  reclone(node: string, primary: string): Promise<string | undefined>;
  /** Containers only: the host cut from its peers or from the tool. */
  readonly cut?: (name: string, link: Link) => Promise<Heal>;
  /** Containers only: hosts a fence_command powered off, started again (as an operator would); their names. */
  readonly powerOn?: () => Promise<string[]>;
}

export function localHosts(manifest: SandboxManifest): SoakHosts {
  return {
    kind: 'local',
    async killPostmaster(node) {
      const pid = postmasterPid(manifest, node);
      return pid !== undefined && signal(pid, 'SIGKILL');
    },
    async freeze(node) {
      const pids = freezeNode(manifest, node);
      return async () => thawNode(pids);
    },
    startNode: (node) => startNode(manifest, node),
    async stopReceiver(node) {
      const pid = postmasterPid(manifest, node);
      const receiver =
        pid === undefined ? undefined : childrenOf(pid).find((p) => commandLine(p).includes('walreceiver'));
      if (receiver === undefined || !signal(receiver, 'SIGSTOP')) return undefined;
      return async () => void signal(receiver, 'SIGCONT');
    },
    async killPooler(name) {
      const pid = pgbouncerPid(manifest, name);
      return pid !== undefined && signal(pid, 'SIGKILL');
    },
    startPooler: (name) => startPgBouncer(manifest, name),
    async freezePooler(name) {
      const pid = pgbouncerPid(manifest, name);
      if (pid === undefined || !signal(pid, 'SIGSTOP')) return undefined;
      return async () => void signal(pid, 'SIGCONT');
    },
    reclone: (node, primary) =>
      recloneReplica(
        manifest,
        node,
        manifest.nodes.find((n) => n.name === primary)!,
      ),
  };
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Each host a container: signals sent inside it by `docker exec`, to the pid its pid file names. */
export function containerHosts(manifest: SandboxManifest): SoakHosts {
  const node = (name: string) => manifest.nodes.find((n) => n.name === name)!;
  const pooler = (name: string) => manifest.poolers.find((p) => p.name === name)!;
  const sh = (host: string, script: string, ...args: string[]) =>
    onHost(manifest, host, ['sh', '-c', script, 'sh', ...args]).then(
      (out) => out,
      () => undefined,
    );
  const killPidFile = async (host: string, pidFile: string, sig: string): Promise<boolean> =>
    (await sh(host, 'pid=$(head -n 1 "$1") && kill -"$2" "$pid" && echo "$pid"', pidFile, sig)) !== undefined;
  return {
    kind: 'containers',
    killPostmaster: (name) => killPidFile(name, join(node(name).dataDir, 'postmaster.pid'), 'KILL'),
    async freeze(name) {
      // A hung host: every process in the container frozen (the cgroup freezer).
      await pauseHost(manifest, name);
      return () => unpauseHost(manifest, name);
    },
    async startNode(name) {
      const n = node(name);
      // A killed postmaster leaves its pid file; pg_ctl start checks that the pid is gone.
      await onHost(manifest, name, [`${PG_BIN}/pg_ctl`, '-D', n.dataDir, '-l', n.logFile, '-w', '-t', '30', 'start']);
    },
    async stopReceiver(name) {
      // The postmaster's child whose command line names the WAL receiver (read from /proc inside).
      const pid = await sh(
        name,
        'pm=$(head -n 1 "$1") && for c in $(cat /proc/$pm/task/$pm/children); do grep -q walreceiver /proc/$c/cmdline && kill -STOP "$c" && echo "$c" && exit 0; done; exit 1',
        join(node(name).dataDir, 'postmaster.pid'),
      );
      if (!pid) return undefined;
      return async () => void (await sh(name, 'kill -CONT "$1"', pid.trim()));
    },
    killPooler: (name) => killPidFile(name, pooler(name).pidFile, 'KILL'),
    async startPooler(name) {
      const p = pooler(name);
      await sh(name, 'rm -f "$1"', p.pidFile);
      await onHost(manifest, name, ['/usr/sbin/pgbouncer', '-d', p.configFile]);
      for (let i = 0; i < 100 && !(await sh(name, 'test -s "$1"', p.pidFile)); i++) await sleep(50);
    },
    async freezePooler(name) {
      await pauseHost(manifest, name);
      return () => unpauseHost(manifest, name);
    },
    async reclone(name, primary) {
      const n = node(name);
      const script = [
        'rm -rf "$1"',
        `${PG_BIN}/pg_basebackup -D "$1" -d "host=$2 port=5432 user=${SANDBOX_USERS.replication} passfile=/var/lib/postgresql/.pgpass" -c fast -X stream -R --no-sync`,
        `printf "primary_slot_name = ''\\n" >> "$1/postgresql.auto.conf"`,
        // The copy carries its source's cluster_name: this node's own, as the sandbox set it.
        `printf "cluster_name = '%s'\\n" "$4" >> "$1/postgresql.conf"`,
        `${PG_BIN}/pg_ctl -D "$1" -l "$3" -w -t 30 start`,
      ].join(' && ');
      return (await sh(name, script, n.dataDir, primary, n.logFile, name)) === undefined
        ? `re-cloning ${name} from ${primary} inside its container failed`
        : undefined;
    },
    async cut(name, link) {
      await cutLink(manifest, name, link);
      return () => restoreLink(manifest, name, link);
    },
    async powerOn() {
      const started: string[] = [];
      for (const n of manifest.nodes) {
        if (await hostRunning(manifest, n.name)) continue;
        await run(['docker', 'start', n.container!.name], { timeoutMs: 60_000 });
        started.push(n.name);
      }
      return started;
    },
  };
}
