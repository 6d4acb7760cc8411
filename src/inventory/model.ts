/** The validated, normalised inventory the rest of the tool works with. */
export interface ConnParams {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly dbname: string;
  readonly password?: string;
  /** Other libpq parameters (sslmode, application_name, …), passed through. */
  readonly extra: Readonly<Record<string, string>>;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** The address replicas and poolers use for `node`: its connect_address, else the tool's own. */
export const peerAddress = (node: NodeSpec): HostPort =>
  node.connectAddress ?? { host: node.conn.host, port: node.conn.port };

export type HostAccess =
  | { readonly kind: 'local'; readonly runAs?: string }
  | { readonly kind: 'command'; readonly command: readonly string[] };

export interface NodeSpec {
  readonly name: string;
  readonly conn: ConnParams;
  /** How the other members and the poolers reach it, when not as the tool does (`conn`). */
  readonly connectAddress?: HostPort;
  readonly dataDir?: string;
  readonly logFile?: string;
  readonly binDir?: string;
  readonly hostAccess?: HostAccess;
  /** Service-manager commands used instead of pg_ctl (run through host access). */
  readonly service?: { readonly start?: readonly string[]; readonly stop?: readonly string[] };
  /** Failover's STONITH: a command run on the tool's machine that stops this node serving (exit 0: fenced). */
  readonly fenceCommand?: readonly string[];
  /** Failover preference among equally advanced replicas: higher first; 0: never promoted by failover. */
  readonly priority?: number;
  /** A managed platform's name for it, substituted for {platform_id} in its hooks. */
  readonly platformId?: string;
  /** Its promotion through a platform's control plane (no shell, no superuser): see `Hook`. */
  readonly promote?: { readonly command: readonly string[]; readonly wait?: readonly string[] };
  /** The platform's own switchover to it (it fences and syncs itself): the platform-switchover playbook. */
  readonly switchover?: { readonly command: readonly string[]; readonly wait?: readonly string[] };
  /** How it becomes a replica again when it cannot follow (a managed platform's rebuild). */
  readonly rebuild?: { readonly command: readonly string[] };
}

/** A hook's words with {node} and {platform_id} substituted (the platform id defaults to the node's name). */
export const hookWords = (node: NodeSpec, words: readonly string[]): string[] =>
  words.map((w) => w.replaceAll('{node}', node.name).replaceAll('{platform_id}', node.platformId ?? node.name));

/**
 * What directs clients to the primary (the inventory's `poolers:` list). `kind` selects the
 * implementation in src/routers/; each kind extends this with its own fields.
 */
export interface RouterSpec {
  readonly name: string;
  readonly kind: string;
  /** Route names as clients use them (pooled databases, proxy backends). */
  readonly routes: readonly string[];
  /** Optional application login through the router, to verify where writes land. */
  readonly app?: ConnParams;
}

export interface Inventory {
  readonly file: string;
  readonly cluster: string;
  readonly nodes: readonly NodeSpec[];
  readonly poolers: readonly RouterSpec[];
  /** The password file the inventory names (or $PGPASSFILE): a server that must log in elsewhere (a subscription) is pointed at it. */
  readonly passfile?: string;
  /** The application's roles for the role fence, as the inventory names them (else discovered). */
  readonly appRoles?: readonly string[];
  /** A major-version upgrade's target cluster (upgrade-major), when the inventory names one. */
  readonly upgradeTarget?: UpgradeTargetSpec;
}

export interface UpgradeTargetSpec {
  /** The first is the subscriber, the new primary. */
  readonly nodes: readonly NodeSpec[];
  readonly databases: readonly string[];
}

/** The application's roles a role fence acts on, as far as the inventory says: its app_roles, else the poolers' logins. */
export const inventoryAppRoles = (inventory: Pick<Inventory, 'appRoles' | 'poolers'>): string[] =>
  inventory.appRoles
    ? [...inventory.appRoles]
    : [...new Set(inventory.poolers.flatMap((p) => (p.app ? [p.app.user] : [])))];
