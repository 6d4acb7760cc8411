/**
 * PgBouncer as a router: PAUSE/RESUME on its admin console, repoint by rewriting `[databases]`
 * (in whichever file holds each entry) and RELOAD. It moves the inventory's databases and
 * anything else it sends to the old primary, the `*` fallback and the databases created from it
 * included, so no client is left on a demoted node. The console is held for the whole run (PAUSE
 * and RESUME cost one round trip) and reopened when PgBouncer dropped it (restart, kill).
 */
import { StepFailedError } from '../../errors.js';
import type { Route, RouterState } from '../../model/router.js';
import { messageOf, type NodeSession } from '../../postgres/session.js';
import { FileChangedError, localFiles, remoteFiles, type HostFiles } from '../../shell/files.js';
import { hostRunner } from '../../shell/host.js';
import { resolveHosts } from '../../shell/resolve.js';
import { sleep } from '../../util/time.js';
import type { WitnessAnswer } from '../../model/witness.js';
import { appLoginProblems, newClientProblems, witnessLogin, witnessThrough } from '../app-login.js';
import { isTarget, type NewClients, type RouteTarget, type Router, type RouterLog } from '../types.js';
import { PoolerAdmin } from './admin.js';
import type { PgBouncerDetail } from './checks.js';
import { readConfig, readDatabaseTargets, repointEntries, type ConfigFiles } from './config-file.js';
import type { PoolerDatabase } from './databases.js';
import type { PgBouncerSpec } from './spec.js';

export class PgBouncerRouter implements Router {
  private admin: PoolerAdmin | undefined;
  private connectError: string | undefined;
  /** Databases this run paused, to RESUME exactly those. */
  private held: string[] = [];
  /** Addresses of every host its databases and config entries name, resolved before the pause. */
  private resolved: Record<string, string[]> = {};
  /**
   * server_login_retry as configured, while a failover holds it at 0: after failed connects to a
   * dead primary PgBouncer waits that long (15 s by default) before connecting again, even to the
   * new primary. Restored once a server login succeeded (verify) or when the run ends.
   */
  private loginRetry: string | undefined;
  /** A failover's witness login, begun with the run's connections (prepareWitness). */
  private witnessLogin: Promise<NodeSession> | undefined;

  /** Where the config file is read and replaced: here, or on the pooler's host through its host_access. */
  private readonly files: HostFiles;
  /**
   * The config as observed before clients were held. On another host, repoint starts from it
   * (one round trip less while clients wait) and replaces each file only if it is unchanged.
   */
  private readBefore: ConfigFiles | undefined;

  constructor(readonly spec: PgBouncerSpec) {
    const runner =
      spec.hostAccess?.kind === 'command'
        ? hostRunner(spec.name, spec.hostAccess, `pooler ${spec.name} host_access.run_as`)
        : undefined;
    this.files =
      runner && spec.hostAccess?.kind === 'command'
        ? remoteFiles(runner, `via ${spec.hostAccess.command.join(' ')}`)
        : localFiles;
  }

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
      let files: readonly string[] = [this.spec.configFile];
      try {
        const read = await readDatabaseTargets(this.spec.configFile, this.files);
        this.readBefore = read.config;
        fileTargets = Object.fromEntries(read.targets);
        files = [...new Set([this.spec.configFile, ...read.files])];
        if (read.missing.length)
          fileError = `%include ${read.missing.join(', ')}: not found (a relative include is looked for beside the file that includes it)`;
      } catch (error) {
        fileError = `cannot read ${this.spec.configFile}${this.files === localFiles ? '' : ` ${this.files.where}`}: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}`;
      }
      this.resolved = await resolveHosts(
        [
          ...new Set([
            ...databases.map((d) => d.host),
            ...Object.values(fileTargets).flatMap((t) => (t.host ? [t.host] : [])),
          ]),
        ].filter(Boolean),
      );
      const others = databases
        .filter((d) => !this.spec.routes.includes(d.name))
        .map((d) => ({ name: d.name, host: d.host, port: d.port }));
      const detail: PgBouncerDetail = {
        config,
        fileTargets,
        fileError,
        fileWriteError: await this.writeProblem(files),
        others,
        resolved: this.resolved,
      };
      return {
        name,
        kind,
        reachable: true,
        routes: databases.filter((d) => this.spec.routes.includes(d.name)),
        detail,
      };
    } catch (error) {
      return { name, kind, reachable: false, error: messageOf(error) };
    }
  }

  async routes(): Promise<readonly Route[]> {
    const databases = await (await this.console(1)).showDatabases();
    return databases.filter((d) => this.spec.routes.includes(d.name));
  }

  /** The inventory's databases that exist, then every other one it sends to `from` (explicit, or made from `*`). */
  private toHold(databases: readonly PoolerDatabase[], from: RouteTarget): string[] {
    const named = this.spec.routes.filter((db) => databases.some((d) => d.name === db));
    const others = databases
      .filter((d) => !this.spec.routes.includes(d.name) && isTarget(from, d.host, d.port, this.resolved))
      .map((d) => d.name);
    return [...named, ...others];
  }

  /** Bounded by `timeoutMs` as a whole: a frozen PgBouncer must not hold the other poolers' clients longer (seen: 10 s against 5 s). */
  async hold(from: RouteTarget, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const left = () => Math.max(1, deadline - performance.now());
    const admin = await this.console();
    this.held = this.toHold(await admin.showDatabases(left()), from);
    // Before the PAUSE, so its two round trips are not inside the clients' pause.
    await this.holdLoginRetry(admin, Math.max(1000, left()));
    await admin.pause(this.held, left());
  }

  /**
   * server_login_retry at 0 while clients are held (set just before the PAUSE): a client that
   * logs in during a PAUSE makes PgBouncer open a server connection and close it at once ("pause
   * mode"), which it counts as a failed login; after RESUME it would then wait server_login_retry
   * (15 s by default) before connecting again (seen after a rollback onto the same server).
   * Restored once a login succeeds.
   */
  private async holdLoginRetry(admin: PoolerAdmin, timeoutMs = 10_000): Promise<void> {
    const retry = (await admin.showConfig(timeoutMs)).server_login_retry;
    if (retry !== undefined && Number(retry) !== 0 && this.loginRetry === undefined) {
      this.loginRetry = retry;
      await admin.set('server_login_retry', '0');
    }
  }

  async fence(from: RouteTarget, timeoutMs: number): Promise<string> {
    const admin = await this.console();
    this.held = this.toHold(await admin.showDatabases(), from);
    await this.holdLoginRetry(admin);
    const how = await admin.pauseOrKill(this.held, timeoutMs);
    const said = how === 'paused' ? 'PAUSE' : timeoutMs <= 0 ? 'KILL' : `PAUSE did not finish in ${timeoutMs} ms; KILL`;
    return `${this.spec.name}: ${said} ${this.held.join(', ')}${this.loginRetry ? '; SET server_login_retry = 0 until the new primary is reached' : ''}`;
  }

  /**
   * RESUME on the held console (a PAUSE that timed out already replaced it, since a RESUME next
   * to a blocked PAUSE can hang it: #715). "Not paused" is fine.
   */
  async release(involved: readonly RouteTarget[]): Promise<string> {
    const admin = await this.console();
    // A run that finishes or undoes another's knows only what is paused now and where it points.
    const held = this.held.length
      ? this.held
      : [
          ...new Set([
            ...this.spec.routes,
            ...(await admin.showDatabases())
              .filter((d) => d.paused && involved.some((node) => isTarget(node, d.host, d.port, this.resolved)))
              .map((d) => d.name),
          ]),
        ];
    const resumed = await admin.resumePaused(held);
    // A run that finishes or undoes another's does not know the value that run held at 0: the file's.
    if (this.loginRetry === undefined && Number((await admin.showConfig()).server_login_retry) === 0 && resumed.length)
      await admin.reload();
    return `${this.spec.name}: RESUME ${resumed.join(', ') || '(was not paused)'}`;
  }

  async repoint(from: RouteTarget, to: RouteTarget, log: RouterLog): Promise<void> {
    const { configFile } = this.spec;
    const before = this.files === localFiles ? undefined : this.readBefore;
    this.readBefore = undefined;
    try {
      await this.rewrite(before ?? (await readConfig(configFile, this.files)), from, to);
    } catch (error) {
      if (!(before && error instanceof FileChangedError)) throw error;
      await this.rewrite(await readConfig(configFile, this.files), from, to);
    }
    await this.reloadAt(from, to, log);
  }

  /** The inventory's routes, and every entry at `from`, pointed at `to` in the files that hold them. */
  private async rewrite(config: ConfigFiles, from: RouteTarget, to: RouteTarget): Promise<void> {
    const { name, routes } = this.spec;
    const fallback = config.entries.find((e) => e.name === '*');
    const chosen = config.entries.filter(
      (e) => routes.includes(e.name) || isTarget(from, e.params.host, Number(e.params.port ?? 5432), this.resolved),
    );
    const unserved = routes.filter(
      (db) => !config.entries.some((e) => e.name === db) && !(fallback && chosen.includes(fallback)),
    );
    if (unserved.length)
      throw new StepFailedError(
        `${name}: ${unserved.join(', ')} ha${unserved.length > 1 ? 've' : 's'} no entry in [databases] and the * fallback does not point at ${from.name}`,
      );
    await repointEntries(config, chosen, to.host, to.port, this.files);
  }

  /** RELOAD, then every route must be at `to` and nothing left at `from`. */
  private async reloadAt(from: RouteTarget, to: RouteTarget, log: RouterLog): Promise<void> {
    const { name, routes } = this.spec;
    const reachable = () =>
      this.console().catch((error: Error) => {
        log.leftToDo(
          `${name}: its config file already points at ${to.name}, but its admin console is unreachable (${error.message}): start PgBouncer (or RELOAD it) and RESUME ${routes.join(', ')}`,
        );
        throw error;
      });
    let admin = await reachable();
    try {
      await admin.reload();
    } catch (error) {
      // The console held since the run began drops with PgBouncer itself (killed a moment ago,
      // before the session noticed): opened again once, a dead pooler is told from a refused RELOAD.
      if (admin.isOpen) throw error;
      admin = await reachable();
      await admin.reload();
    }
    // RELOAD restores every SET from the file: hold server_login_retry at 0 again.
    if (this.loginRetry !== undefined) await admin.set('server_login_retry', '0');
    const live = await admin.showDatabases();
    const wrong = [
      ...routes.filter(
        (db) =>
          live.some((d) => d.name === db) &&
          !live.some((d) => d.name === db && d.port === to.port && d.host === to.host),
      ),
      ...live.filter((d) => isTarget(from, d.host, d.port, this.resolved)).map((d) => d.name),
    ];
    if (wrong.length)
      throw new StepFailedError(
        `${name}: after RELOAD, ${[...new Set(wrong)].join(', ')} still not at ${to.host}:${to.port}`,
      );
  }

  async clients(to: RouteTarget, timeoutMs: number, applicationName: string): Promise<NewClients | undefined> {
    return newClientProblems(this.spec.name, this.spec.app, to, timeoutMs, applicationName);
  }

  async verify(from: RouteTarget, to: RouteTarget, applicationName: string): Promise<string[]> {
    const problems: string[] = [];
    for (const db of await (await this.console()).showDatabases()) {
      const ours = this.spec.routes.includes(db.name);
      if (ours && (db.port !== to.port || db.host !== to.host))
        problems.push(`${this.spec.name} sends ${db.name} to ${db.host}:${db.port}`);
      else if (!ours && isTarget(from, db.host, db.port, this.resolved))
        problems.push(`${this.spec.name} still sends ${db.name} to the old primary ${from.name}`);
      if (db.paused && (ours || this.held.includes(db.name))) problems.push(`${this.spec.name} has ${db.name} paused`);
    }
    // A pool that remembers a failed login (the new primary crashed and came back while the run
    // was away, or a run that finishes another's and did not hold the retry itself) refuses every
    // new client until server_login_retry has passed: held at 0 here, PgBouncer tries at once.
    const app = this.spec.app;
    if (app)
      problems.push(
        ...(await appLoginProblems(this.spec.name, app, to, applicationName, {
          beforeRetry: async () => this.holdLoginRetry(await this.console()),
        })),
      );
    if (!problems.length) await this.restoreLoginRetry();
    return problems;
  }

  /** server_login_retry back to its configured value, once a login to the new primary succeeded (or 2 s passed). */
  private async restoreLoginRetry(): Promise<void> {
    if (this.loginRetry === undefined) return;
    const admin = await this.console(1);
    const deadline = performance.now() + 2000;
    while (performance.now() < deadline) {
      const counts = await admin.serverCounts();
      const pooled = this.spec.app ? [...this.held, this.spec.app.dbname] : this.held;
      if (pooled.some((db) => (counts[db] ?? 0) > 0)) break;
      await sleep(20);
    }
    await admin.set('server_login_retry', this.loginRetry);
    this.loginRetry = undefined;
  }

  /** Each file is replaced by writing a temp file beside it and renaming it over: both must be writable. */
  private async writeProblem(files: readonly string[]): Promise<string | undefined> {
    for (const file of files) {
      const problem = await this.files.replaceProblem(file);
      if (problem) return `${problem}: the config file cannot be rewritten to repoint it`;
    }
    return undefined;
  }

  prepareWitness(applicationName: string, deadlineMs: number): void {
    if (this.spec.app) this.witnessLogin = witnessLogin(this.spec.name, this.spec.app, applicationName, deadlineMs);
  }

  /**
   * An application login through PgBouncer, which must reach the suspect through its own server
   * connection. While it waits, the console is polled: clients waiting and no server connection
   * at all, not even one logging in, on two polls 10 ms apart, means PgBouncer's connection
   * attempts fail (it starts one as soon as a client waits, and waits server_login_retry after a
   * failed one): it cannot reach the suspect, said without waiting for the deadline. A hung
   * suspect keeps a connection logging in, so it is the deadline that answers there.
   */
  async witness(suspect: RouteTarget, deadlineMs: number, applicationName: string): Promise<WitnessAnswer> {
    const stop = new AbortController();
    // The login through it (begun with the run's connections when prepareWitness was called) is
    // most of a dead primary's witness time: its query goes at once; whether the database is
    // paused is read meanwhile, and a paused one ends it (see below).
    const login = this.witnessLogin;
    this.witnessLogin = undefined;
    const probe = witnessThrough(
      this.spec.name,
      this.spec.app,
      suspect,
      deadlineMs,
      applicationName,
      stop.signal,
      login,
    );
    const app = this.spec.app;
    if (!app || !this.admin) return probe;
    // A paused database keeps its clients waiting with no server connection by design: it says
    // nothing. Read beside the pool's polls, and known before any answer counts (a paused pool
    // looks exactly like one whose connection attempts fail).
    const admin = this.admin;
    const pausedRead = admin
      .showDatabases(Math.min(1000, deadlineMs))
      .then((databases) => databases.find((d) => d.name === app.dbname)?.paused === true)
      .catch(() => false);
    const started = performance.now();
    const stalled = (async (): Promise<WitnessAnswer | undefined> => {
      let seen = 0;
      while (!stop.signal.aborted && performance.now() - started < deadlineMs - 60) {
        // Every 10 ms: the answer is what PgBouncer's pool shows, however soon it is read (a
        // failed connect leaves no server connection for server_login_retry; a hung server keeps
        // one logging in), so a shorter interval only answers sooner (50 ms took ~250 ms, 20 ms
        // about 40 ms after the witness's client waited; one SHOW POOLS costs PgBouncer ~1 ms).
        await sleep(10);
        const pool = await admin.pool(app.dbname, app.user).catch(() => undefined);
        seen = pool && pool.waiting > 0 && pool.servers === 0 ? seen + 1 : 0;
        if (seen >= 2) {
          return {
            witness: `pooler ${this.spec.name}`,
            kind: 'pooler',
            verdict: 'cannot-reach',
            ms: Math.round(performance.now() - started),
            detail: `clients wait and it has no server connection to ${suspect.name}, not even one logging in: its connection attempts fail`,
          };
        }
      }
      return undefined;
    })();
    if (await pausedRead) {
      stop.abort();
      await Promise.all([probe.catch(() => undefined), stalled]);
      return {
        witness: `pooler ${this.spec.name}`,
        kind: 'pooler',
        verdict: 'unknown',
        detail: `${app.dbname} is paused: its clients wait by design`,
      };
    }
    const first = await Promise.race([probe, stalled.then((a) => a ?? probe)]);
    stop.abort();
    return first;
  }

  async close(): Promise<void> {
    // A witness login no witness used (no route named the suspect).
    await this.witnessLogin?.then(
      (session) => session.close(),
      () => undefined,
    );
    await this.restoreLoginRetry().catch(() => undefined);
    await this.admin?.close();
  }
}
