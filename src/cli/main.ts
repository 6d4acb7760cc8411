/**
 * The command-line entry. Commands are registered here but their modules load only when run,
 * so `--help` stays fast. One place maps errors to exit codes and one-line messages.
 */
import { Command, CommanderError } from 'commander';
import { BadInputError, HandoverError } from '../errors.js';
import { exitCodeFor, ExitCode } from '../exit-codes.js';
import { registerCommands } from './commands.js';
import { outJson, say, tolerateClosedOutput } from './output.js';

const program = new Command('pg-handover')
  .description('Move the primary role of a PostgreSQL cluster to a replica, safely, behind PgBouncer.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .configureOutput({ writeErr: () => undefined })
  .addHelpText(
    'after',
    `
Exit codes:
  0  success (for --dry-run: ready)          4  failed before promotion and rolled back
  1  internal error (a bug: please report)   5  failed after the point of no return: operator needed
  2  bad input (nothing was contacted)       6  interrupted and rolled back
  3  preflight refused (nothing changed)     7  environment problem (missing binaries, users)`,
  );

registerCommands(program);

// `pg-handover ... | head`, a closed terminal or a dead ssh session: output is dropped, the run goes on.
tolerateClosedOutput();

// No top-level await: the one-file bundle is CommonJS, so that it can start from V8's code cache.
program.parseAsync(process.argv).catch((error: unknown) => {
  process.exitCode = report(error);
});

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0)
      return 0;
    return fail(new BadInputError(error.message.replace(/^error: /, '')));
  }
  return fail(error);
}

function fail(error: unknown): number {
  const code = exitCodeFor(error);
  const message =
    error instanceof HandoverError
      ? error.message
      : error instanceof Error
        ? `internal error: ${error.message}`
        : String(error);
  if (process.argv.includes('--json')) {
    outJson({ event: 'error', exitCode: code, message });
  }
  say(`pg-handover: ${message.split('\n')[0]!}`);
  if (code === ExitCode.internal && process.env.PG_HANDOVER_DEBUG && error instanceof Error) {
    say(error.stack ?? '');
  }
  return code;
}
