/** Declares every command and its flags; the handlers load lazily. */
import { Command, Option } from 'commander';
import { PROCEDURES } from '../procedures/catalog.js';
import type { CheckFlags } from './check-command.js';
import type { DemoFlags } from './demo-command.js';
import type { ProcedureFlags } from './procedure-command.js';
import type { ReportFlags } from './report-command.js';
import type { DownFlags, SandboxStatusFlags, UpFlags } from './sandbox-command.js';
import type { StatusFlags } from './status-command.js';
import type { PrepareFlags } from './upgrade-command.js';

/** --router, the same for the sandbox and the demo. */
const routerOption = (): Option =>
  new Option(
    '--router <router>',
    'what sends clients to the primary: pgbouncer, or haproxy (TCP mode, switched over its runtime API)',
  )
    .choices(['pgbouncer', 'haproxy'])
    .default('pgbouncer');

/** -i/--inventory, the same on every command that reads one. */
const withInventory = (command: Command, description = 'inventory YAML file'): Command =>
  command.requiredOption('-i, --inventory <file>', description);
/** --json: what it prints differs (one object, or one event per line). */
const withJson = (command: Command, description = 'one JSON event per line on stdout'): Command =>
  command.option('--json', description);

export function registerCommands(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description('a real local cluster (primary, replicas, PgBouncer) for trying things');
  const up = sandbox
    .command('up')
    .description('initdb a primary, clone replicas with pg_basebackup, start PgBouncer; writes DIR/inventory.yaml')
    .option('--replicas <n>', 'number of streaming replicas', '2')
    .option(
      '--poolers <n>',
      'number of PgBouncers in front of the primary (all are paused and repointed together)',
      '1',
    )
    .option('--dir <dir>', 'where the sandbox lives (default .pg-handover/sandbox)')
    .option('--pg-bin <dir>', 'PostgreSQL bin directory (default: $PG_BIN, pg_config, /usr/lib/postgresql/*/bin)')
    .option('--os-user <name>', 'OS user that runs the servers when run as root', 'postgres')
    .addOption(
      new Option(
        '--layout <layout>',
        'plain: config in the data directory; debian: pg_createcluster, config under DIR/etc, pg_ctlcluster as service commands',
      )
        .choices(['plain', 'debian'])
        .default('plain'),
    )
    .option('--tls', 'servers get certificates from a throwaway CA; the inventory uses sslmode=verify-full')
    .addOption(routerOption())
    .addOption(
      new Option(
        '--replication-auth <auth>',
        'password: replicas cloned with the passfile; trust: replication trusted from loopback and replicas cloned by a plain pg_basebackup -R (their primary_conninfo names a passfile that does not exist), as many clusters are built',
      )
        .choices(['password', 'trust'])
        .default('password'),
    )
    .option(
      '--managed',
      'a stand-in managed platform: no host_access, no superuser in the inventory (the tool logs in as platform_admin), promotion through a control-plane command',
    )
    .option('--promote-delay <duration>', "with --managed: how long the stand-in platform's promotion takes", '2s')
    .option(
      '--upgrade-target <major>',
      'also a node on this newer PostgreSQL major (new1), for upgrade-major; the cluster gets wal_level = logical',
    )
    .addOption(
      new Option(
        '--backend <backend>',
        'local: processes on this machine; containers: each server and PgBouncer its own Docker container (docker exec as host access)',
      )
        .choices(['local', 'containers'])
        .default('local'),
    );
  withJson(up, 'print the result as JSON').action(async (opts: UpFlags) =>
    (await import('./sandbox-command.js')).sandboxUpCommand(opts),
  );
  sandbox
    .command('down')
    .description(
      'stop exactly the processes (or remove exactly the containers) of the sandbox and remove its directory',
    )
    .option('--dir <dir>', 'the sandbox directory')
    .option('--keep', 'stop the processes but keep the directory')
    .action(async (opts: DownFlags) => (await import('./sandbox-command.js')).sandboxDownCommand(opts));
  withJson(
    sandbox
      .command('status')
      .description("each node's role, LSNs and replication state, and where PgBouncer points")
      .option('--dir <dir>', 'the sandbox directory'),
    'print the state as JSON',
  ).action(async (opts: SandboxStatusFlags) => (await import('./sandbox-command.js')).sandboxStatusCommand(opts));

  withJson(
    withInventory(
      program
        .command('status')
        .description('observe a cluster: roles, timelines, LSNs, lag, pooler targets (read-only)'),
    ),
    'print the state as JSON',
  ).action(async (opts: StatusFlags) => (await import('./status-command.js')).statusCommand(opts));

  withJson(
    withInventory(
      program
        .command('check')
        .description(
          'ready for a switchover now, and for a failover? exit 0 ready, 3 not ready, 5 split brain, 7 no primary answers (changes nothing)',
        ),
    ),
    'print the result as JSON',
  )
    .option('--watch <interval>', 'check again every interval (e.g. 10s) and serve Prometheus metrics')
    .option('--metrics-port <port>', 'port for --watch metrics (GET /metrics)', '9187')
    .option('--metrics-host <address>', 'address the metrics endpoint listens on', '127.0.0.1')
    .option(
      '--journal-dir <dir>',
      'where the last sight of the primary is kept for a later failover (default: as for runs)',
    )
    .action(async (opts: CheckFlags) => (await import('./check-command.js')).checkCommand(opts));

  program
    .command('report')
    .description(
      "a run's journal, or a folder of them (a wave), as Markdown or one self-contained HTML page: the steps on a timeline, when clients were held, the LSN proof, the verified end state, what is left to do",
    )
    .argument('<journal...>', 'journal files (*.jsonl) or folders of them')
    .option('--format <format>', 'html or md (default: md, or html when -o ends in .html)')
    .option('-o, --output <file>', 'write it there instead of to stdout')
    .action(async (paths: string[], opts: ReportFlags) =>
      (await import('./report-command.js')).reportCommand(paths, opts),
    );

  for (const procedure of PROCEDURES) {
    const command = withJson(
      withInventory(
        program
          .command(procedure.name)
          .aliases([...procedure.aliases])
          .description(procedure.summary),
      ),
    )
      .option('-p, --playbook <file>', `playbook YAML file (default: the built-in playbooks/${procedure.name}.yaml)`)
      .option('--dry-run', 'run every read-only check and print the plan; change nothing')
      .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
      .option('--summary <file>', 'append a Markdown summary of the end to FILE (for CI: $GITHUB_STEP_SUMMARY)')
      .option(
        '--journal-dir <dir>',
        'where run journals go (default: $PG_HANDOVER_JOURNAL_DIR, else $PG_HANDOVER_STATE_DIR/runs, else .pg-handover/runs beside the inventory file)',
      )
      .option(
        '--fleet-lock <dsn>',
        "a database shared by the fleet's runners: hold one of --fleet-slots advisory locks there for the run (refused, exit 3, when all are taken)",
      )
      .option('--fleet-slots <n>', 'how many runs may hold the fleet lock at once (default 1)');
    for (const flag of procedure.flags ?? []) command.option(flag.flags, flag.description);
    const run = async (opts: ProcedureFlags) =>
      (await import('./procedure-command.js')).procedureCommand(procedure.name, opts);
    if (procedure.argument) {
      // The node is the command's subject (rejoin NODE), not a choice among candidates.
      command
        .argument(procedure.argument.name, procedure.argument.description)
        .action(async (node: string, opts: ProcedureFlags) => void (await run({ ...opts, target: node })));
    } else {
      command
        .option('-t, --target <node>', procedure.targetHelp)
        .action(async (opts: ProcedureFlags) => void (await run(opts)));
    }
  }

  withJson(
    withInventory(
      program
        .command('prepare-upgrade')
        .description(
          "before upgrade-major: publication, schema and subscription on the new version (the inventory's upgrade_target), then watch the initial copy until every table replicates (resumable)",
        ),
      'inventory YAML file (with upgrade_target)',
    ),
  )
    .option('--dry-run', 'run every read-only check and print the plan; change nothing')
    .option('--accept-large-objects', 'proceed although large objects exist (logical replication does not carry them)')
    .option('--timeout <duration>', 'how long to watch the initial copy (default 30m); run again to keep watching')
    .action(async (opts: PrepareFlags) => (await import('./upgrade-command.js')).upgradePrepareCommand(opts));

  program
    .command('playbook')
    .description('work with playbooks')
    .command('validate')
    .argument('<file>', 'playbook YAML file')
    .description('check a playbook without contacting any server')
    .option('--procedure <name>', `the procedure it is for: ${PROCEDURES.map((p) => p.name).join(', ')}`, 'switchover')
    .action(async (file: string, opts: { procedure: string }) =>
      (await import('./playbook-command.js')).validateCommand(file, opts.procedure),
    );

  program
    .command('demo')
    .description('a real switchover on a throwaway sandbox: load, promote, check no row was lost, tear down')
    .option('--dir <dir>', 'sandbox directory (default: a new temporary directory)')
    .option('--keep', 'leave the sandbox running afterwards')
    .addOption(routerOption())
    .addOption(new Option('--json', 'JSON events').hideHelp())
    .action(async (opts: DemoFlags) => (await import('./demo-command.js')).demoCommand(opts));
}
