/**
 * HAProxy (TCP mode) as a router, over its runtime API. Hold: the frontend's maxconn 0, so new
 * clients wait in the listen queue instead of failing. Repoint: in one request, cut the old
 * primary's sessions, put its server in maintenance, make the new primary's server ready. A
 * state set over the runtime API is an admin state: health checks do not undo it (they only
 * move a server between up and down), so the checker and the switchover never fight.
 *
 * The maxconn before the hold is kept in memory and, for a recovery run of another process, in
 * a variable of the HAProxy process itself (`proc.pg_handover_<frontend>_maxconn`): it lives
 * exactly as long as the state it describes.
 */
import { StepFailedError } from '../../errors.js';
import type { Route, RouterState } from '../../model/router.js';
import { messageOf } from '../../postgres/session.js';
import { localFiles } from '../../shell/files.js';
import { resolveHosts } from '../../shell/resolve.js';
import { request } from '../../shell/runtime-socket.js';
import { sleep } from '../../util/time.js';
import type { WitnessAnswer } from '../../model/witness.js';
import { appLoginProblems, newClientProblems, witnessThrough } from '../app-login.js';
import { isTarget, type NewClients, type RouteTarget, type Router, type RouterLog } from '../types.js';
import {
  inMaint,
  maxconnDeadlocks,
  parseInfo,
  parseServersState,
  parseStatCsv,
  setProblem,
  usable,
  type ServerState,
} from './runtime-state.js';
import type { HaproxySpec } from './spec.js';

const REQUEST_TIMEOUT_MS = 2000;
/** How long repoint waits for the new primary's server to be up (a check in flight). */
const READY_TIMEOUT_MS = 3000;

/** What an observation of HAProxy adds to its route (read only by its checks). */
export interface HaproxyDetail {
  readonly version: string;
  /** `show cli level`: admin is needed to change anything. */
  readonly level: string;
  readonly frontendMaxconn?: number;
  readonly frontendError?: string;
  readonly servers: readonly ServerState[];
  readonly backendError?: string;
  /** Addresses of each node's host, as HAProxy's server lines name them by address. */
  readonly resolved: Readonly<Record<string, readonly string[]>>;
  /** Why the state file could not be written (it or its directory not writable). */
  readonly stateFileProblem?: string;
}

export class HaproxyRouter implements Router {
  private version = '';
  private connectError: string | undefined;
  /** The frontend's maxconn before this run held it. */
  private heldMaxconn: number | undefined;
  private resolved: Record<string, string[]> = {};

  constructor(readonly spec: HaproxySpec) {}

  private ask(line: string): Promise<string> {
    return request(this.spec.runtimeApi, line, REQUEST_TIMEOUT_MS);
  }

  /** A `set` request (commands joined by ";"): each answers nothing when it worked. */
  private async set(commands: readonly string[]): Promise<void> {
    const answer = await this.ask(commands.join('; '));
    const problem = setProblem(answer);
    if (problem) throw new StepFailedError(`${this.spec.name}: ${commands.join('; ')}: ${problem}`);
  }

  private get memo(): string {
    return `proc.pg_handover_${this.spec.frontend.replace(/[^A-Za-z0-9_]/g, '_')}_maxconn`;
  }

  async connect(): Promise<void> {
    try {
      this.version = parseInfo(await this.ask('show info')).Version ?? '';
      if (!this.version) this.connectError = 'the runtime API answered, but not to "show info"';
    } catch (error) {
      this.connectError = messageOf(error);
    }
  }

  async observe(): Promise<RouterState> {
    const { name, kind } = this.spec;
    if (this.connectError) return { name, kind, reachable: false, error: this.connectError };
    try {
      const level = (await this.ask('show cli level')).trim();
      const frontend = await this.frontendMaxconn().then(
        (n) => ({ n, error: undefined }),
        (error: Error) => ({ n: undefined, error: error.message }),
      );
      const servers = await this.servers().then(
        (s) => ({ s, error: undefined }),
        (error: Error) => ({ s: [] as ServerState[], error: error.message }),
      );
      this.resolved = await resolveHosts([...new Set(servers.s.map((s) => s.addr))]);
      const detail: HaproxyDetail = {
        version: this.version,
        level,
        frontendMaxconn: frontend.n,
        frontendError: frontend.error,
        servers: servers.s,
        backendError: servers.error,
        resolved: this.resolved,
        stateFileProblem: this.spec.stateFile ? await localFiles.replaceProblem(this.spec.stateFile) : undefined,
      };
      return { name, kind, reachable: true, routes: servers.error ? [] : [this.route(servers.s, frontend.n)], detail };
    } catch (error) {
      return { name, kind, reachable: false, error: messageOf(error) };
    }
  }

  /** The backend as a route: where its ready (not in maintenance) server is; held when the frontend's maxconn is 0. */
  private route(servers: readonly ServerState[], maxconn: number | undefined): Route {
    const ready = servers.filter((s) => !inMaint(s));
    const at = ready.find(usable) ?? ready[0];
    return {
      name: this.spec.backend,
      host: at?.addr ?? '(no server ready)',
      port: at?.port ?? 0,
      paused: maxconn === 0,
    };
  }

  private async servers(): Promise<ServerState[]> {
    return parseServersState(await this.ask(`show servers state ${this.spec.backend}`));
  }

  private async frontendMaxconn(): Promise<number> {
    const answer = await this.ask(`show stat ${this.spec.frontend} 1 -1`);
    const row = parseStatCsv(answer).find((r) => r.svname === 'FRONTEND');
    if (!row) throw new Error(`no frontend "${this.spec.frontend}" (${answer.trim() || 'show stat: nothing'})`);
    return Number(row.slim);
  }

  async routes(): Promise<readonly Route[]> {
    return [this.route(await this.servers(), await this.frontendMaxconn())];
  }

  /** The backend's server for a node: the inventory's name for it, else the one at its address, else the one named like it. */
  private serverOf(servers: readonly ServerState[], node: RouteTarget): ServerState | undefined {
    const named = this.spec.servers[node.name];
    if (named) return servers.find((s) => s.name === named);
    return (
      servers.find((s) => isTarget(node, s.addr, s.port, this.resolved)) ?? servers.find((s) => s.name === node.name)
    );
  }

  async hold(): Promise<void> {
    const maxconn = await this.frontendMaxconn();
    if (maxconn === 0) return; // held already (a run that finishes another's)
    this.heldMaxconn = maxconn;
    // The memo is best effort (an experimental-mode command); the hold itself must work.
    await this.ask(`experimental-mode on; set var ${this.memo} int(${maxconn})`).catch(() => undefined);
    await this.set([`set maxconn frontend ${this.spec.frontend} 0`]);
  }

  async fence(from: RouteTarget): Promise<string> {
    await this.hold();
    const old = this.serverOf(await this.servers(), from);
    // A dead or hung server's sessions never finish by themselves; clients see an error now, not a hang.
    if (old) await this.set([`shutdown sessions server ${this.spec.backend}/${old.name}`]);
    return `${this.spec.name}: set maxconn frontend ${this.spec.frontend} 0${old ? `; shutdown sessions server ${this.spec.backend}/${old.name}` : ''}`;
  }

  /**
   * The frontend's maxconn as it was. On an HAProxy where `set maxconn frontend` deadlocks with a
   * client waiting (#2726: the process is killed by its watchdog), the frontend is disabled
   * around it, in the same request: the waiting clients are reset (and reconnect at once)
   * instead of the proxy dying.
   */
  async release(): Promise<string> {
    const now = await this.frontendMaxconn();
    if (now !== 0) return `${this.spec.name}: frontend ${this.spec.frontend} was not held (maxconn ${now})`;
    const restore =
      this.heldMaxconn ?? (await this.memoValue()) ?? Number(parseInfo(await this.ask('show info')).Maxconn);
    const fe = this.spec.frontend;
    const commands = maxconnDeadlocks(this.version)
      ? [`disable frontend ${fe}`, `set maxconn frontend ${fe} ${restore}`, `enable frontend ${fe}`]
      : [`set maxconn frontend ${fe} ${restore}`];
    const answer = await this.ask(commands.join('; '));
    // disable/enable frontend answer with a notice when they worked; only maxconn's answer matters.
    if ((await this.frontendMaxconn()) !== restore)
      throw new StepFailedError(
        `${this.spec.name}: ${commands.join('; ')}: ${answer.trim() || 'maxconn not restored'}`,
      );
    this.heldMaxconn = undefined;
    return `${this.spec.name}: ${commands.join('; ')}`;
  }

  private async memoValue(): Promise<number | undefined> {
    const answer = await this.ask(`get var ${this.memo}`).catch(() => '');
    const m = /value=<(\d+)>/.exec(answer);
    return m ? Number(m[1]) : undefined;
  }

  async repoint(from: RouteTarget, to: RouteTarget, log: RouterLog): Promise<void> {
    const { name, backend } = this.spec;
    const servers = await this.servers();
    const [old, next] = [this.serverOf(servers, from), this.serverOf(servers, to)];
    if (!next)
      throw new StepFailedError(`${name}: backend ${backend} has no server for ${to.name} (${to.host}:${to.port})`);
    const others = servers.filter((s) => s !== next && !inMaint(s));
    // Old primary out first, then the new one in, in one request: never two servers ready.
    await this.set([
      ...(old ? [`shutdown sessions server ${backend}/${old.name}`] : []),
      ...others.map((s) => `set server ${backend}/${s.name} state maint`),
      `set server ${backend}/${next.name} state ready`,
      // Its health was last judged as a replica's, or not at all during maintenance: up now, checks go on.
      ...(next.checked ? [`set server ${backend}/${next.name} health up`] : []),
    ]);
    const deadline = performance.now() + READY_TIMEOUT_MS;
    for (;;) {
      const now = await this.servers();
      const up = now.find((s) => s.name === next.name);
      const stray = now.filter((s) => s.name !== next.name && !inMaint(s));
      if (up && usable(up) && !stray.length) return this.saveState();
      if (performance.now() > deadline) {
        log.leftToDo(
          `${name}: make ${backend}/${next.name} ready and every other server of ${backend} maint (set server ... state ...), then set maxconn frontend ${this.spec.frontend} back`,
        );
        throw new StepFailedError(
          `${name}: ${backend}/${next.name} is not up ${READY_TIMEOUT_MS} ms after "state ready"${stray.length ? `; ${stray.map((s) => s.name).join(', ')} still ready` : ''}`,
        );
      }
      await sleep(20);
    }
  }

  /** Every backend's server states into the state file, so that a reload loads them, not the config's. */
  private async saveState(): Promise<void> {
    if (!this.spec.stateFile) return;
    const dump = await this.ask('show servers state');
    parseServersState(dump); // a dump, not an error message
    await localFiles.replace(this.spec.stateFile, dump);
  }

  async clients(to: RouteTarget, timeoutMs: number, applicationName: string): Promise<NewClients | undefined> {
    return newClientProblems(this.spec.name, this.spec.app, to, timeoutMs, applicationName);
  }

  async verify(from: RouteTarget, to: RouteTarget, applicationName: string): Promise<string[]> {
    const problems: string[] = [];
    const servers = await this.servers();
    const next = this.serverOf(servers, to);
    if (!next || !usable(next))
      problems.push(`${this.spec.name}: ${this.spec.backend}/${next?.name ?? to.name} is not up and ready`);
    const old = this.serverOf(servers, from);
    if (old && !inMaint(old))
      problems.push(`${this.spec.name}: ${this.spec.backend}/${old.name} (the old primary) is not in maintenance`);
    if ((await this.frontendMaxconn()) === 0)
      problems.push(`${this.spec.name}: frontend ${this.spec.frontend} is held (maxconn 0)`);
    if (this.spec.app && !problems.length)
      problems.push(...(await appLoginProblems(this.spec.name, this.spec.app, to, applicationName)));
    return problems;
  }

  /** An application login through the frontend: HAProxy connects to the server it sends clients to. */
  async witness(suspect: RouteTarget, deadlineMs: number, applicationName: string): Promise<WitnessAnswer> {
    return witnessThrough(this.spec.name, this.spec.app, suspect, deadlineMs, applicationName);
  }

  async close(): Promise<void> {
    // Nothing is held open: each request is its own connection.
  }
}
