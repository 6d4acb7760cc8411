/**
 * PgBouncer as a router: PAUSE/RESUME on its admin console, repoint by rewriting `[databases]`
 * in its config file and RELOAD. The console is held for the whole run, so PAUSE and RESUME cost
 * one round trip; it is reopened when PgBouncer dropped it (restart, kill).
 */
import { access, constants } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StepFailedError } from '../../errors.js';
import { messageOf, NodeSession } from '../../postgres/session.js';
import type { Route, RouterState } from '../../model/router.js';
import type { RouteTarget, Router, RouterLog } from '../types.js';
import { PoolerAdmin } from './admin.js';
import type { PgBouncerDetail } from './checks.js';
import { readDatabaseTargets, repointConfigFile } from './config-file.js';
import type { PgBouncerSpec } from './spec.js';

const THROUGH_POOLER_SQL = "SELECT inet_server_port() AS port, pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS ro";

export class PgBouncerRouter implements Router {
  private admin: PoolerAdmin | undefined;
  private connectError: string | undefined;

  constructor(readonly spec: PgBouncerSpec) {}

  async connect(): Promise<void> {
    try {
      this.admin = await PoolerAdmin.open(this.spec);
    } catch (error) {
      this.connectError = messageOf(error).replace(/^[^:]+: /, '');
    }
  }

  /** The held console, reopened when PgBouncer dropped it. */
  private async console(attempts = 3): Promise<PoolerAdmin> {
    if (this.admin?.isOpen) return this.admin;
    this.admin = await PoolerAdmin.open(this.spec, attempts);
    return this.admin;
  }

  async observe(): Promise<RouterState> {
    const { name, kind } = this.spec;
    // Observation uses the console opened with the run; one that failed to open is reported, not retried.
    if (!this.admin) return { name, kind, reachable: false, error: this.connectError ?? 'not connected' };
    try {
      const [databases, config] = [await this.admin.showDatabases(), await this.admin.showConfig()];
      let fileTargets: PgBouncerDetail['fileTargets'] = {};
      let fileError: string | undefined;
      try {
        fileTargets = Object.fromEntries(await readDatabaseTargets(this.spec.configFile));
      } catch (error) {
        fileError = `cannot read ${this.spec.configFile}: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}`;
      }
      const detail: PgBouncerDetail = { config, fileTargets, fileError, fileWriteError: await writeProblem(this.spec.configFile) };
      return { name, kind, reachable: true, routes: databases.filter((d) => this.spec.routes.includes(d.name)), detail };
    } catch (error) {
      return { name, kind, reachable: false, error: messageOf(error) };
    }
  }

  async routes(): Promise<readonly Route[]> {
    const databases = await (await this.console(1)).showDatabases();
    return databases.filter((d) => this.spec.routes.includes(d.name));
  }

  async hold(timeoutMs: number): Promise<void> {
    await (await this.console()).pause(this.spec.routes, timeoutMs);
  }

  /**
   * RESUME on the held console (a PAUSE that timed out already replaced it, since a RESUME next
   * to a blocked PAUSE can hang it: #715). "Not paused" is fine.
   */
  async release(): Promise<string> {
    const resumed = await (await this.console()).resumePaused(this.spec.routes);
    return `${this.spec.name}: RESUME ${resumed.join(', ') || '(was not paused)'}`;
  }

  async repoint(to: RouteTarget, log: RouterLog): Promise<void> {
    const { name, routes, configFile } = this.spec;
    await repointConfigFile(configFile, routes, to.host, to.port);
    const admin = await this.console().catch((error: Error) => {
      log.leftToDo(`${name}: its config file already points at ${to.name}, but its admin console is unreachable (${error.message}): start PgBouncer (or RELOAD it) and RESUME ${routes.join(', ')}`);
      throw error;
    });
    await admin.reload();
    const live = await admin.showDatabases();
    const wrong = routes.filter((db) => {
      const entry = live.find((d) => d.name === db);
      return !entry || entry.port !== to.port || entry.host !== to.host;
    });
    if (wrong.length) throw new StepFailedError(`${name}: after RELOAD, ${wrong.join(', ')} still not at ${to.host}:${to.port}`);
  }

  async verify(to: RouteTarget, applicationName: string): Promise<string[]> {
    const problems: string[] = [];
    for (const db of await (await this.console()).showDatabases()) {
      if (!this.spec.routes.includes(db.name)) continue;
      if (db.port !== to.port || db.host !== to.host) problems.push(`${this.spec.name} sends ${db.name} to ${db.host}:${db.port}`);
      if (db.paused) problems.push(`${this.spec.name} has ${db.name} paused`);
    }
    if (this.spec.app) problems.push(...(await this.throughPooler(to, applicationName)));
    return problems;
  }

  /** An application login through the pooler: clients must land on `to`, writable. */
  private async throughPooler(to: RouteTarget, applicationName: string): Promise<string[]> {
    const session = await NodeSession.open(this.spec.name, this.spec.app!, { applicationName });
    try {
      const row = await session.one<{ port: number; in_recovery: boolean; ro: string }>(THROUGH_POOLER_SQL);
      if (Number(row.port) !== to.port || row.in_recovery || row.ro === 'on') {
        return [`through ${this.spec.name}, clients reach port ${row.port} (in recovery: ${row.in_recovery}, read-only: ${row.ro})`];
      }
      return [];
    } finally {
      await session.close();
    }
  }

  async close(): Promise<void> {
    await this.admin?.close();
  }
}

/** The config file is replaced by writing a temp file beside it and renaming it over. */
async function writeProblem(file: string): Promise<string | undefined> {
  for (const path of [file, dirname(file)]) {
    try {
      await access(path, constants.W_OK);
    } catch (error) {
      return `${path} is not writable (${(error as NodeJS.ErrnoException).code ?? messageOf(error)}): the config file cannot be rewritten to repoint it`;
    }
  }
  return undefined;
}
