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

export type HostAccess =
  | { readonly kind: 'local'; readonly runAs?: string }
  | { readonly kind: 'command'; readonly command: readonly string[] };

export interface NodeSpec {
  readonly name: string;
  readonly conn: ConnParams;
  readonly dataDir?: string;
  readonly logFile?: string;
  readonly binDir?: string;
  readonly hostAccess?: HostAccess;
}

export interface PoolerSpec {
  readonly name: string;
  readonly admin: ConnParams;
  readonly configFile: string;
  readonly databases: readonly string[];
  readonly app?: ConnParams;
}

export interface Inventory {
  readonly file: string;
  readonly cluster: string;
  readonly nodes: readonly NodeSpec[];
  readonly poolers: readonly PoolerSpec[];
}

export function nodeByName(inventory: Inventory, name: string): NodeSpec | undefined {
  return inventory.nodes.find((node) => node.name === name);
}

export const endpoint = (conn: ConnParams): string => `${conn.host}:${conn.port}`;
