/**
 * A router directs clients to the primary: a pooler (PgBouncer) or a proxy (HAProxy). The model
 * knows only what every router has: named routes, each sending clients to a host and port, each
 * paused or not. What a kind observes beyond that (its settings, its config file) stays in
 * `detail`, read only by that kind's own checks.
 */
export interface Route {
  /** What clients ask for: a pooled database, a proxy backend. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly paused: boolean;
  readonly disabled?: boolean;
}

export interface RouterReachable {
  readonly name: string;
  readonly kind: string;
  readonly reachable: true;
  /** The routes the inventory names, as the router reports them (missing ones are absent). */
  readonly routes: readonly Route[];
  readonly detail: unknown;
}

export interface RouterUnreachable {
  readonly name: string;
  readonly kind: string;
  readonly reachable: false;
  readonly error: string;
}

export type RouterState = RouterReachable | RouterUnreachable;
