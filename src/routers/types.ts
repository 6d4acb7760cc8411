/**
 * The one interface to whatever directs clients to the primary. Steps, observation and the end
 * state talk to routers only through this; everything kind-specific lives in its folder
 * (src/routers/<kind>/) and is found through the registry by the inventory's `kind`.
 */
import type { z } from 'zod';
import type { Check } from '../decide/checks.js';
import { peerAddress, type ConnParams, type NodeSpec, type RouterSpec } from '../inventory/model.js';
import type { ClusterState } from '../model/cluster-state.js';
import type { NodeObservation } from '../model/node.js';
import type { Route, RouterState } from '../model/router.js';
import type { WitnessAnswer } from '../model/witness.js';

/** A node of the inventory, as a router names it: host, port, and the addresses the host resolves to. */
export interface RouteTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly addresses: readonly string[];
  /**
   * The port the server itself listens on (its `port` setting, as observed), when it differs from
   * the one routers use: a relay, a NAT or a port-forward in between. A login through a router
   * answers inet_server_port() with this one.
   */
  readonly serverPort?: number;
}

/** Whether a session's inet_server_port() is `target`'s server (the routers' port, or the server's own behind a forward). */
export const servesOn = (target: RouteTarget, port: number): boolean =>
  port === target.port || (target.serverPort !== undefined && port === target.serverPort);

/** A node as routers name it (its connect_address, if any), with the addresses its host resolved to when the cluster was observed. */
export const routeTargetOf = (
  node: NodeSpec,
  addresses: ClusterState['addresses'],
  nodes?: ClusterState['nodes'],
): RouteTarget => {
  const { host, port } = peerAddress(node);
  const seen = nodes?.find((n) => n.name === node.name);
  const own = seen?.reachable ? Number(seen.settings.port) : NaN;
  return {
    name: node.name,
    host,
    port,
    addresses: addresses?.[host] ?? [host],
    ...(Number.isInteger(own) && own !== port ? { serverPort: own } : {}),
  };
};

/** Whether host:port is `target`, however the host is spelled (`resolved`: addresses per host name). */
export function isTarget(
  target: RouteTarget,
  host: string | undefined,
  port: number | undefined,
  resolved: Readonly<Record<string, readonly string[]>> = {},
): boolean {
  if (host === undefined || port !== target.port) return false;
  if (host === target.host || target.addresses.includes(host)) return true;
  return (resolved[host] ?? []).some((address) => target.addresses.includes(address));
}

/** What one new client met through a router (`Router.clients`). */
export interface NewClients {
  /** What kept it from landing on the primary, writable; none: an empty list. */
  readonly problems: readonly string[];
  /** The router itself did not answer the login from here: not a refusal it made. */
  readonly routerSilent: boolean;
}

/** Lines a router adds to the run's report when it cannot finish something itself. */
export interface RouterLog {
  leftToDo(line: string): void;
}

/** A router of one kind, with its held connection (reopened when it drops). */
export interface Router {
  readonly spec: RouterSpec;
  /** Opens the held connection; a failure is kept and reported by `observe`. */
  connect(): Promise<void>;
  /** Everything preflight and status need, in one observation. */
  observe(): Promise<RouterState>;
  /** Where each route sends clients now (a fresh connection if the held one is gone). */
  routes(): Promise<readonly Route[]>;
  /**
   * Clients of every route, and of anything else it sends to `from`, queue instead of reaching a
   * server; bounded by `timeoutMs` (e.g. PgBouncer PAUSE).
   */
  hold(from: RouteTarget, timeoutMs: number): Promise<void>;
  /**
   * A failover's hold: clients queue as with `hold`, and no server connection to `from` (dead or
   * hung) survives. A hold that cannot finish within `timeoutMs` (queries stuck on a hung server)
   * cuts those connections instead (PgBouncer: KILL). Undone by `release`. Returns one line.
   */
  fence(from: RouteTarget, timeoutMs: number): Promise<string>;
  /**
   * Lets queued clients through again: the undo of `hold`. `involved` are the run's old and new
   * primary, for a run that finishes or undoes another (it did not hold them itself).
   * Returns what it did, in one line.
   */
  release(involved: readonly RouteTarget[]): Promise<string>;
  /** Sends every route, and anything else it sent to `from`, to `to`; checks the router reports it. */
  repoint(from: RouteTarget, to: RouteTarget, log: RouterLog): Promise<void>;
  /**
   * A failover's witness: can this router reach `suspect` now, through its own server connection?
   * Asked while the tool probes the suspect itself, within `deadlineMs`. Never changes anything.
   */
  witness(suspect: RouteTarget, deadlineMs: number, applicationName: string): Promise<WitnessAnswer>;
  /**
   * Begins the witness's own login now, while the run connects (a router whose login reaches no
   * server: PgBouncer); `witness` then uses it. Optional: a router without it logs in when asked.
   */
  prepareWitness?(applicationName: string, deadlineMs: number): void;
  /**
   * What a new client meets through it now: one application login, bounded by `timeoutMs`, that
   * must land on `to`, writable. Its problems (none: an empty list), and whether the router itself
   * did not answer from here (that says nothing about what clients elsewhere meet); undefined when
   * the inventory gives it no application login. Never changes anything.
   */
  clients(to: RouteTarget, timeoutMs: number, applicationName: string): Promise<NewClients | undefined>;
  /** Problems with clients reaching `to` (and nothing reaching `from`) through this router; none: an empty list. */
  verify(from: RouteTarget, to: RouteTarget, applicationName: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Building a kind's spec from its inventory entry. */
export interface InventoryTools {
  /** A DSN at `at`, parsed and checked; `expectDb` when the kind needs a fixed dbname. */
  conn(dsn: string, at: readonly PropertyKey[], expectDb?: { dbname: string; why: string }): ConnParams;
  /** A path, relative to the inventory file's directory. */
  file(path: string): string;
  report(at: readonly PropertyKey[], message: string): void;
}

export interface RouterCheckInput {
  readonly state: ClusterState;
  readonly primary: NodeObservation | undefined;
  /** How long clients may be queued in the worst case. */
  readonly pauseBudgetMs: number;
}

export interface RouterKind<S extends RouterSpec = RouterSpec> {
  readonly kind: string;
  /** Its entry in the inventory's `poolers:` list: a strict object with `kind: z.literal(kind)`. */
  readonly schema: z.ZodObject;
  toSpec(raw: Record<string, unknown>, at: readonly PropertyKey[], tools: InventoryTools): S;
  /** The spec with passwords filled in (from a password file). */
  withPasswords(spec: S, fill: (conn: ConnParams) => Promise<ConnParams>): Promise<S>;
  /** Its router, its implementation loaded on demand (deciding and planning never load pg or node:net). */
  open(spec: S): Promise<Router>;
  /** Preflight checks of one observed router; pure. */
  checks(observed: RouterState, input: RouterCheckInput): Check[];
  /** The dry run's text for each operation, made from the spec alone. */
  readonly describe: {
    hold(spec: S, from: RouteTarget, timeoutMs: number): string[];
    fence(spec: S, from: RouteTarget, timeoutMs: number): string[];
    release(spec: S): string[];
    repoint(spec: S, from: RouteTarget, to: RouteTarget, timeoutMs: number): string[];
    verify(spec: S): string[];
  };
}

export const routerAction = (router: string, what: string): string => `[${router}] ${what}`;

/** The application login's question (app-login.ts): where it landed, and whether it may write there. */
export const APP_LOGIN_SQL =
  "SELECT inet_server_port() AS port, pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS ro";
