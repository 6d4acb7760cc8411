/** Runs the real CLI as a child process, as an operator or CI would, and collects what it said. */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/pg-handover.js', import.meta.url));

export interface CliResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly events: Array<Record<string, unknown>>;
}

export async function cli(args: readonly string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  const result = await execa('node', [BIN, ...args], {
    reject: false, timeout: options.timeoutMs ?? 120_000, env: options.env, stdin: 'ignore',
  });
  const stdout = String(result.stdout);
  const events = args.includes('--json')
    ? stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
  return { exitCode: result.exitCode ?? -1, stdout, stderr: String(result.stderr), events };
}

export function reportOf(result: CliResult): Record<string, any> {
  const event = result.events.find((e) => e.event === 'report');
  if (!event) throw new Error(`no report in output:\n${result.stdout}\n${result.stderr}`);
  return event.report as Record<string, any>;
}
