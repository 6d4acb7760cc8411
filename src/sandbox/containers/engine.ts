/**
 * The container engine and the sandbox image. No registry is reachable here, so the image is
 * built from Debian packages by scripts/build-image.sh (debootstrap + docker import), once per
 * tag; the tag names the package list.
 */
import { join } from 'node:path';
import { EnvironmentError } from '../../errors.js';
import { describeFailure, run } from '../../shell/exec.js';
import { packageRoot } from '../../util/package-root.js';

/** docker exec as the servers' user, with standard input (files and secrets are sent on it, never as arguments): a container's host_access. */
export const execPrefix = (container: string): string[] => ['docker', 'exec', '-i', '-u', 'postgres', container];

const BUILD_SCRIPT = (): string => join(packageRoot(), 'scripts', 'build-image.sh');

export type EngineStatus =
  { readonly ok: true; readonly version: string } | { readonly ok: false; readonly reason: string };

/** Whether a Docker engine answers here, and if not, why (for a test to say when it skips). */
export async function engineStatus(): Promise<EngineStatus> {
  const info = await run(['docker', 'info', '--format', '{{.ServerVersion}}'], { timeoutMs: 15_000 });
  if (info.ok && info.stdout.trim()) return { ok: true, version: info.stdout.trim() };
  return {
    ok: false,
    reason: `no Docker engine answers here (${describeFailure('docker info', info)}); scripts/setup.sh installs docker.io and starts dockerd`,
  };
}

export async function imageTag(): Promise<string> {
  const result = await run(['bash', BUILD_SCRIPT(), '--print-tag'], { timeoutMs: 10_000 });
  if (!result.ok) throw new EnvironmentError(describeFailure('scripts/build-image.sh --print-tag', result));
  return result.stdout.trim();
}

/** The sandbox image, built first if this engine does not have it yet (about a minute). */
export async function ensureImage(progress: (message: string) => void): Promise<string> {
  const engine = await engineStatus();
  if (!engine.ok) throw new EnvironmentError(engine.reason);
  const tag = await imageTag();
  if ((await run(['docker', 'image', 'inspect', tag], { timeoutMs: 15_000 })).ok) return tag;
  progress(`building image ${tag} from Debian packages (once)`);
  const built = await run(['bash', BUILD_SCRIPT()], { timeoutMs: 15 * 60_000 });
  if (!built.ok) throw new EnvironmentError(describeFailure(`building ${tag} (scripts/build-image.sh)`, built));
  return tag;
}
