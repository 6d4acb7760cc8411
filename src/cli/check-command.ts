/** `pg-handover check`: ready for a switchover, and for a failover? Exit 0 ready, 3 not ready, 5 split brain, 7 no primary answers. `--watch` serves metrics. */
import { BadInputError } from '../errors.js';
import { exitCodeOfCheck } from '../exit-codes.js';
import { checkOnce, loadCheckInput, type CheckResult } from '../runner/check.js';
import { defaultJournalDir } from '../runner/journal.js';
import { formatMs, parseDuration, sleep } from '../util/time.js';
import { out, outJson, say } from './output.js';

export interface CheckFlags {
  inventory: string;
  json?: boolean;
  watch?: string;
  metricsPort?: string;
  metricsHost?: string;
  journalDir?: string;
}

export async function checkCommand(flags: CheckFlags): Promise<void> {
  const interval = flags.watch === undefined ? undefined : parseDuration(flags.watch);
  if (flags.watch !== undefined && (interval === undefined || interval < 100))
    throw new BadInputError(
      `--watch: expected a duration of at least 100ms such as "10s", got "${flags.watch}"`,
      'watch',
    );
  const port = Number(flags.metricsPort ?? 9187);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new BadInputError(`--metrics-port: expected an integer 0-65535, got "${flags.metricsPort}"`, 'metrics-port');
  const input = await loadCheckInput(flags.inventory, flags.journalDir ?? defaultJournalDir(flags.inventory));
  if (interval === undefined) {
    const result = await checkOnce(input);
    if (flags.json) outJson(result);
    else out(render(result));
    process.exitCode = exitCodeOfCheck[result.verdict];
    return;
  }
  await watch(input, interval, flags.metricsHost ?? '127.0.0.1', port, Boolean(flags.json));
}

async function watch(
  input: Awaited<ReturnType<typeof loadCheckInput>>,
  intervalMs: number,
  host: string,
  port: number,
  json: boolean,
): Promise<void> {
  const { CheckMetrics } = await import('./metrics.js');
  const metrics = new CheckMetrics();
  const server = await metrics.serve(host, port);
  const address = server.address();
  say(
    `metrics on http://${host}:${typeof address === 'object' && address ? address.port : port}/metrics, a check every ${formatMs(intervalMs)}; Ctrl-C stops`,
  );
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    while (!stopping) {
      const started = performance.now();
      const result = await checkOnce(input).catch((error: Error) => error);
      if (result instanceof Error) say(`check failed: ${result.message}`);
      else {
        metrics.update(result);
        if (json) outJson(result);
        else
          say(
            `${result.at} ${result.verdict}: switchover ${result.switchover.ready ? 'ready' : 'not ready'}, failover ${result.failover.ready ? 'ready' : 'not ready'}`,
          );
      }
      while (!stopping && performance.now() - started < intervalMs) await sleep(Math.min(100, intervalMs));
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await new Promise((resolve) => server.close(resolve));
  }
}

function render(result: CheckResult): string {
  const lines = [
    `${result.verdict === 'split-brain' ? `SPLIT BRAIN: ${result.primary} all accept writes; an operator must fence all but one` : result.verdict.toUpperCase()} (${formatMs(result.durationMs)})`,
  ];
  lines.push(`  primary: ${result.primary ?? 'none answers'}`);
  for (const problem of result.problems) lines.push(`  inventory: ${problem}`);
  for (const warning of result.warnings) lines.push(`  warning: ${warning}`);
  for (const node of result.nodes) {
    const binaries = node.binaries ? `; ${node.binaries} (pg-handover rolling-restart)` : '';
    if (node.role === 'replica')
      lines.push(
        `  ${node.name}: replica, ${node.streaming ? 'streaming' : 'NOT streaming'}, lag ${node.lagBytes ?? '?'} bytes / ${node.lagSeconds === undefined ? '?' : node.lagSeconds.toFixed(3)} s${binaries}`,
      );
    else lines.push(`  ${node.name}: ${node.role}${node.error ? ` (${node.error})` : ''}${binaries}`);
  }
  for (const router of result.routers) {
    const clients = !router.clients
      ? ''
      : router.clients.length
        ? `; ${router.clients.join('; ')}`
        : '; a new client gets in';
    lines.push(
      `  ${router.name}: ${router.reachable ? router.routes.map((r) => `${r.route} -> ${r.node ?? '?'}${r.paused ? ' (paused)' : ''}`).join(', ') : 'unreachable'}${clients}`,
    );
  }
  for (const [name, r] of [
    ['switchover', result.switchover],
    ['failover', result.failover],
  ] as const) {
    lines.push(`  ${name}: ${r.ready ? `ready${r.target ? ` (to ${r.target})` : ''}` : 'NOT READY'}`);
    for (const reason of r.reasons) lines.push(`    - ${reason}`);
  }
  return lines.join('\n');
}
