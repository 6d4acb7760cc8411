/**
 * A platform's hook (promote, its wait, fence_command, rebuild): a command on the tool's own
 * machine, with {node} and {platform_id} substituted, bounded in time. What it printed (redacted,
 * at most 2 KB), its exit code and its duration go to the journal.
 */
import { hookWords, type NodeSpec } from '../inventory/model.js';
import { describeFailure, run, type RunResult } from '../shell/exec.js';
import { StepFailedError } from '../errors.js';
import { waitStreaming } from './upstream.js';
import { redact } from '../util/secrets.js';
import type { StepContext } from './types.js';

export async function runHook(
  ctx: Pick<StepContext, 'record' | 'signal'>,
  node: NodeSpec,
  hook: string,
  words: readonly string[],
  timeoutMs: number,
): Promise<RunResult> {
  const argv = hookWords(node, words);
  ctx.record('hook-start', { node: node.name, hook, argv, timeoutMs });
  const result = await run(argv, {
    timeoutMs: Math.max(1, timeoutMs),
    signal: ctx.signal,
    // From here the platform has the request even if this process dies: the evidence a guardian reads.
    onSpawn: (pid) => ctx.record('hook-spawned', { node: node.name, hook, pid }),
  });
  ctx.record('hook-end', {
    node: node.name,
    hook,
    ok: result.ok,
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    ms: Math.round(result.durationMs),
    output: redact(`${result.stdout}\n${result.stderr}`.trim()).slice(-2048),
    ...(result.spawnError ? { spawnError: result.spawnError } : {}),
  });
  return result;
}

/** The dry-run text of a hook. */
export const hookText = (node: NodeSpec, hook: string, words: readonly string[], timeoutMs: number): string =>
  `[tool] shell: ${hookWords(node, words).join(' ')}  (${hook} hook of ${node.name}; within ${timeoutMs} ms)`;

/**
 * A managed node made a replica of the new primary by its platform (its `rebuild` hook), when the
 * playbook says so (`rebuild: true`): the command, then until it streams from the new primary.
 */
export async function rebuildNode(ctx: StepContext, node: NodeSpec, timeoutMs: number): Promise<string> {
  const started = performance.now();
  const result = await runHook(ctx, node, 'rebuild', node.rebuild!.command, timeoutMs);
  if (!result.ok) throw new StepFailedError(describeFailure(`the rebuild of ${node.name}`, result));
  await waitStreaming(ctx, node, Math.max(1, timeoutMs - (performance.now() - started)));
  return `${node.name} rebuilt by its platform, streaming from ${ctx.target.name} (${Math.round(performance.now() - started)} ms)`;
}
