/**
 * upgrade-major prepare: the first phase of a major-version upgrade by logical replication, and
 * resumable (each action is skipped when already done). For each database: the database and its
 * schema on the target (pg_dump --schema-only), a publication of all tables on the source, a
 * subscription on the target (initial copy); then it watches the copy until every table is ready
 * and the apply worker streams, warning while the source's slots hold WAL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { observeUpgrade, type UpgradeObservation } from '../cluster/upgrade-observe.js';
import { inDatabase as withSession } from '../postgres/logical.js';
import { failures, type Check } from '../decide/checks.js';
import { EnvironmentError, PreflightRefusedError, StepFailedError } from '../errors.js';
import { formatDsn } from '../inventory/dsn.js';
import type { Inventory, NodeSpec } from '../inventory/model.js';
import { PUBLICATION, subscriptionName } from '../model/logical.js';
import { quoteIdent, quoteLiteral, READ_ONLY_SQL } from '../postgres/sql.js';
import {
  copyProgress,
  subscriptionConninfo,
  upgradeChecks,
  type UpgradeOptions,
} from '../procedures/upgrade-major/decide.js';
import { describeFailure, run } from '../shell/exec.js';
import { findClientTool } from '../shell/client-tools.js';
import { sleep } from '../util/time.js';

export interface PrepareOptions extends Omit<UpgradeOptions, 'phase'> {
  readonly dryRun?: boolean;
  readonly timeoutMs?: number;
  readonly onProgress?: (line: string) => void;
}

export interface PrepareAction {
  readonly text: string;
  readonly run?: () => Promise<void>;
}

export interface PrepareResult {
  readonly checks: readonly Check[];
  readonly actions: readonly string[];
  readonly ready: boolean;
  readonly progress: readonly string[];
}

/** How the target's server logs in to the source: its peer address, the tool's user, the inventory's password file (never a password). */
function sourceConninfo(inventory: Inventory, source: NodeSpec, database: string): string {
  const conninfo = subscriptionConninfo(inventory, source, database);
  if (!conninfo)
    throw new EnvironmentError(
      "the target server logs in to the source with a password file: name it as the inventory's passfile (a file the target's server can read)",
    );
  return conninfo;
}

/** SQL run in `database` on `node`: the dry-run text is made of the very statements it runs. */
function sqlAction(node: NodeSpec, database: string, statements: readonly string[], note: string): PrepareAction {
  return {
    text: `[${node.name}] SQL: ${statements.join('; ')}  (${note})`,
    run: () =>
      withSession(node, database, async (s) => {
        for (const sql of statements) await s.query(sql);
      }),
  };
}

export function prepareActions(inventory: Inventory, seen: UpgradeObservation): PrepareAction[] {
  const { state, target } = seen;
  const fence: PrepareAction[] =
    state.target.settings.default_transaction_read_only === 'on'
      ? []
      : [
          sqlAction(
            target,
            'postgres',
            READ_ONLY_SQL,
            'no client writes there until the cutover; the apply worker still applies',
          ),
        ];
  return [...databaseActions(inventory, seen), ...fence];
}

function databaseActions(inventory: Inventory, seen: UpgradeObservation): PrepareAction[] {
  const { state, source, target } = seen;
  return state.source.databases.flatMap((db) => {
    const there = state.target.databases.find((t) => t.database === db.database)!;
    const sub = subscriptionName(db.database);
    const conninfo = sourceConninfo(inventory, source, db.database);
    const actions: PrepareAction[] = [];
    if (!there.exists) {
      actions.push({
        text: `[${target.name}] SQL: CREATE DATABASE ${quoteIdent(db.database)} OWNER <its owner on ${source.name}>`,
        run: async () => {
          const owner = await withSession(source, 'postgres', (s) =>
            s.one<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [
              db.database,
            ]),
          );
          await withSession(target, 'postgres', (s) =>
            s.query(`CREATE DATABASE ${quoteIdent(db.database)} OWNER ${quoteIdent(owner.owner)}`),
          );
        },
      });
    }
    if (!there.schema?.tables.length) {
      actions.push({
        text: `[tool] shell: pg_dump --schema-only --no-publications --no-subscriptions ${db.database} on ${source.name} | psql -v ON_ERROR_STOP=1 on ${target.name}  (roles must exist there: pg_dumpall --roles-only)`,
        run: () => copySchema(source, target, db.database),
      });
    }
    if (!db.publication) {
      actions.push(
        sqlAction(source, db.database, [`CREATE PUBLICATION ${PUBLICATION} FOR ALL TABLES`], `in ${db.database}`),
      );
    }
    if (!there.subscription) {
      const subscribe = `CREATE SUBSCRIPTION ${sub} CONNECTION ${quoteLiteral(conninfo)} PUBLICATION ${PUBLICATION} WITH (copy_data = true)`;
      actions.push(sqlAction(target, db.database, [subscribe], `in ${db.database}; a slot ${sub} on ${source.name}`));
    }
    actions.push({
      text: `[${target.name}] SQL: pg_subscription_rel, pg_stat_subscription, pg_stat_progress_copy; [${source.name}] pg_replication_slots  (every second, until every table is ready (r) and the apply worker streams)`,
    });
    return actions;
  });
}

async function copySchema(source: NodeSpec, target: NodeSpec, database: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pg-handover-schema-'));
  const file = join(dir, `${database}.sql`);
  const dsn = (node: NodeSpec) =>
    formatDsn({
      host: node.conn.host,
      port: String(node.conn.port),
      user: node.conn.user,
      dbname: database,
      ...node.conn.extra,
    });
  try {
    // Passwords on the environment, never on a command line.
    const dump = await run(
      [
        await findClientTool('pg_dump', source),
        '--schema-only',
        '--no-publications',
        '--no-subscriptions',
        '-f',
        file,
        '-d',
        dsn(source),
      ],
      { env: { ...process.env, PGPASSWORD: source.conn.password }, timeoutMs: 300_000 },
    );
    if (!dump.ok)
      throw new StepFailedError(describeFailure(`pg_dump --schema-only of ${database} on ${source.name}`, dump));
    const restore = await run(
      [await findClientTool('psql', source), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', file, '-d', dsn(target)],
      { env: { ...process.env, PGPASSWORD: target.conn.password }, timeoutMs: 300_000 },
    );
    if (!restore.ok)
      throw new StepFailedError(describeFailure(`the schema of ${database} into ${target.name}`, restore));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function prepareUpgrade(inventory: Inventory, options: PrepareOptions): Promise<PrepareResult> {
  const seen = await observeUpgrade(inventory);
  const checks = upgradeChecks(seen.state, { ...options, phase: 'prepare' });
  const actions = prepareActions(inventory, seen);
  const texts = actions.map((a) => a.text);
  if (failures(checks).length)
    throw new PreflightRefusedError(
      `preflight refused: ${failures(checks)
        .map((c) => `${c.id}: ${c.message}`)
        .join('; ')}`,
    );
  if (options.dryRun) return { checks, actions: texts, ready: false, progress: [] };
  for (const action of actions) await action.run?.();
  return { checks, actions: texts, ...(await watchCopy(inventory, options)) };
}

/** Until every table of every database is ready and each apply worker runs; a line per second. */
async function watchCopy(
  inventory: Inventory,
  options: PrepareOptions,
): Promise<{ ready: boolean; progress: string[] }> {
  const progress: string[] = [];
  const deadline = performance.now() + (options.timeoutMs ?? 30 * 60_000);
  for (;;) {
    const seen = await observeUpgrade(inventory);
    const checks = upgradeChecks(seen.state, { ...options, phase: 'cutover' });
    const line = seen.state.target.databases
      .map((t) =>
        copyProgress(
          t,
          seen.state.source.databases.find((s) => s.database === t.database),
        ),
      )
      .join('; ');
    progress.push(line);
    options.onProgress?.(line);
    for (const c of checks.filter((c) => c.id === 'source-slot' || c.id === 'subscription-errors'))
      options.onProgress?.(`${c.verdict}: ${c.message}`);
    const hard = checks.filter((c) => c.verdict === 'fail' && c.id !== 'replicating');
    if (hard.length) throw new StepFailedError(`the initial copy stopped: ${hard.map((c) => c.message).join('; ')}`);
    if (!failures(checks).length) return { ready: true, progress };
    if (performance.now() > deadline) return { ready: false, progress };
    await sleep(1000);
  }
}
