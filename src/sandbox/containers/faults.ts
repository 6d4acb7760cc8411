/**
 * Faults for the container backend's tests, each one a thing that happens to real hosts:
 * - a cut link: `peers` partitions a host from the other hosts (replication, the pooler's server
 *   connections: its cluster network is disconnected) while the tool still reaches it; `tool`
 *   drops what this machine sends to the host (an OUTPUT rule on its addresses, so its published
 *   port times out) while its peers still reach it. Restoring undoes exactly that: the cluster
 *   network reconnected with the same address and name, or the rules deleted;
 * - a paused container (every process frozen: a hung host), a killed one (power off), started again.
 */
import { EnvironmentError } from '../../errors.js';
import { describeFailure, run } from '../../shell/exec.js';
import type { SandboxContainer, SandboxManifest } from '../manifest.js';
import { execPrefix } from './engine.js';

export type Link = 'peers' | 'tool';

function hostOf(manifest: SandboxManifest, name: string): SandboxContainer {
  const host = [...manifest.nodes, ...manifest.poolers].find((h) => h.name === name)?.container;
  if (!host || !manifest.containers) throw new EnvironmentError(`${name} is not a container of this sandbox`);
  return host;
}

async function docker(args: string[]): Promise<void> {
  const result = await run(['docker', ...args], { timeoutMs: 60_000 });
  if (!result.ok) throw new EnvironmentError(describeFailure(`docker ${args.join(' ')}`, result));
}

/** The comment on this host's firewall rules, so they are found again (and by `down`): pgh-<id>-<name>. */
export const ruleComment = (id: string, name: string): string => `pgh-${id}-${name}`;

export async function cutLink(manifest: SandboxManifest, name: string, link: Link): Promise<void> {
  const host = hostOf(manifest, name);
  if (link === 'peers') {
    await docker(['network', 'disconnect', '--force', manifest.containers!.clusterNetwork, host.name]);
    return;
  }
  // Dropped, not refused: a partition looks like silence. The published port is forwarded to one
  // of these addresses (which one, Docker decides: it moves when a network is disconnected).
  const inspect = await run(
    ['docker', 'inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', host.name],
    { timeoutMs: 30_000 },
  );
  if (!inspect.ok) throw new EnvironmentError(describeFailure(`docker inspect ${host.name}`, inspect));
  for (const ip of new Set([...inspect.stdout.trim().split(/\s+/).filter(Boolean), host.clusterIp])) {
    await iptables(['-I', 'OUTPUT', ...dropRule(ip, ruleComment(manifest.containers!.id, name))]);
  }
}

export async function restoreLink(manifest: SandboxManifest, name: string, link: Link): Promise<void> {
  const host = hostOf(manifest, name);
  if (link === 'peers') {
    await docker([
      'network',
      'connect',
      '--ip',
      host.clusterIp,
      '--alias',
      name,
      manifest.containers!.clusterNetwork,
      host.name,
    ]);
    return;
  }
  await deleteRules(ruleComment(manifest.containers!.id, name));
}

const dropRule = (ip: string, comment: string): string[] => [
  '-d',
  `${ip}/32`,
  '-p',
  'tcp',
  '-m',
  'comment',
  '--comment',
  comment,
  '-j',
  'DROP',
];

async function iptables(args: string[]): Promise<string> {
  const result = await run(['iptables', '-w', '5', ...args], { timeoutMs: 30_000 });
  if (!result.ok) throw new EnvironmentError(describeFailure(`iptables ${args.slice(0, 2).join(' ')}`, result));
  return result.stdout;
}

/** Deletes every OUTPUT rule whose comment starts with `prefix` (a host's, or a whole sandbox's). */
export async function deleteRules(prefix: string): Promise<void> {
  const listed = await run(['iptables', '-w', '5', '-S', 'OUTPUT'], { timeoutMs: 30_000 });
  if (!listed.ok) return;
  for (const line of listed.stdout.split('\n')) {
    const match = /^-A OUTPUT -d (\S+)\/32 -p tcp -m comment --comment (\S+) -j DROP$/.exec(line.trim());
    if (match && match[2]!.startsWith(prefix)) await iptables(['-D', 'OUTPUT', ...dropRule(match[1]!, match[2]!)]);
  }
}

export const pauseHost = (manifest: SandboxManifest, name: string): Promise<void> =>
  docker(['pause', hostOf(manifest, name).name]);
export const unpauseHost = (manifest: SandboxManifest, name: string): Promise<void> =>
  docker(['unpause', hostOf(manifest, name).name]);
export const killHost = (manifest: SandboxManifest, name: string): Promise<void> =>
  docker(['kill', hostOf(manifest, name).name]);

/** Whether the host's container is running (a fence_command may have stopped it). */
export async function hostRunning(manifest: SandboxManifest, name: string): Promise<boolean> {
  const result = await run(['docker', 'inspect', '--format', '{{.State.Running}}', hostOf(manifest, name).name], {
    timeoutMs: 30_000,
  });
  return result.ok && result.stdout.trim() === 'true';
}

/** A command on the host, as the servers' user (what host_access does). */
export async function onHost(manifest: SandboxManifest, name: string, argv: readonly string[]): Promise<string> {
  const result = await run([...execPrefix(hostOf(manifest, name).name), ...argv], { timeoutMs: 60_000 });
  if (!result.ok) throw new EnvironmentError(describeFailure(`${argv[0]} on ${name}`, result));
  return result.stdout;
}
