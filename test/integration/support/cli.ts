/** Runs the real CLI as a child process, as an operator or CI would, and collects what it said. */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';

const BIN = fileURLToPath(new URL('../../../bin/pg-handover.js', import.meta.url));

export interface CliResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly events: Array<Record<string, unknown>>;
}

export async function cli(
  args: readonly string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const result = await execa('node', [BIN, ...args], {
    reject: false,
    timeout: options.timeoutMs ?? 120_000,
    env: options.env,
    stdin: 'ignore',
  });
  const stdout = String(result.stdout);
  const events = args.includes('--json')
    ? stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
  // The fleet contract: the line that ends every procedure command's --json output follows the
  // published schema (schemas/run-end.schema.json), in every integration test that asks for it.
  if (PROCEDURES.has(args[0] ?? '') && events.length) {
    const end = events.at(-1)!;
    if (!validRunEnd(end))
      throw new Error(
        `--json run-end event does not follow schemas/run-end.schema.json: ${JSON.stringify(validRunEnd.errors)}\n${JSON.stringify(end).slice(0, 2000)}`,
      );
    if (
      typeof (end.report as { exitCode?: number } | undefined)?.exitCode === 'number' &&
      (end.report as { exitCode: number }).exitCode !== result.exitCode
    ) {
      throw new Error(
        `the report says exit ${(end.report as { exitCode: number }).exitCode}, the process exited ${result.exitCode}`,
      );
    }
  }
  return { exitCode: result.exitCode ?? -1, stdout, stderr: String(result.stderr), events };
}

const PROCEDURES = new Set(['switchover', 'promote', 'failover', 'rejoin', 'rolling-restart', 'upgrade-major']);
const validRunEnd = new Ajv({ allErrors: true }).compile(
  JSON.parse(readFileSync(fileURLToPath(new URL('../../../schemas/run-end.schema.json', import.meta.url)), 'utf8')),
);

export function reportOf(result: CliResult): Record<string, any> {
  const event = result.events.find((e) => e.event === 'report');
  if (!event) throw new Error(`no report in output:\n${result.stdout}\n${result.stderr}`);
  return event.report as Record<string, any>;
}
