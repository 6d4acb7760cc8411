/**
 * An HAProxy in the inventory: its runtime API (a unix socket at level admin, or TCP on
 * loopback), the frontend clients connect to and the backend whose servers are the nodes.
 */
import { z } from 'zod';
import type { ConnParams, RouterSpec } from '../../inventory/model.js';
import type { SocketAddress } from '../../shell/runtime-socket.js';
import type { InventoryTools } from '../types.js';

export interface HaproxySpec extends RouterSpec {
  readonly kind: 'haproxy';
  readonly runtimeApi: SocketAddress;
  /** Held (maxconn 0) while the primary changes. */
  readonly frontend: string;
  /** The write backend: the primary's server ready, every other node's server in maintenance. routes = [backend]. */
  readonly backend: string;
  /** Server name per node, where it differs from the node's name and its address does not say. */
  readonly servers: Readonly<Record<string, string>>;
  /** HAProxy's server-state-file: written after the switch, so that a reload keeps it. */
  readonly stateFile?: string;
}

// HAProxy's own rule for proxy and server names: letters, digits, '-', '_', '.', ':'.
const NAME = /^[A-Za-z0-9_.:-]{1,63}$/;
const haproxyName = z
  .string({ error: 'expected a name' })
  .regex(NAME, { error: 'expected letters, digits, "-", "_", "." or ":" (at most 63)' });
const nonEmpty = z.string().min(1, { error: 'expected a non-empty string' });

export const haproxySchema = z.strictObject({
  name: z
    .string({ error: 'expected a name' })
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/, { error: 'expected letters, digits, "_", "-" or "." (at most 63)' }),
  kind: z.literal('haproxy'),
  /** A unix socket path (`stats socket ... level admin`), or host:port of a TCP one on loopback. */
  runtime_api: nonEmpty,
  frontend: haproxyName,
  /** Defaults to the frontend's name (a `listen` section is both). */
  backend: haproxyName.optional(),
  /** node name -> server name; by default the server whose address is the node's, else the one named like the node. */
  servers: z.record(z.string(), haproxyName).optional(),
  /**
   * The file HAProxy's `server-state-file` names (with `load-server-state-from-file global`):
   * the servers' states are written there after the switch, so that a reload does not put the
   * old primary's server back in service.
   */
  state_file: nonEmpty.optional(),
  /** Optional application login through HAProxy, used to verify writes land on the new primary. */
  app_dsn: nonEmpty.optional(),
});

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** `/path`, `unix:/path`, `host:port` or `tcp://host:port` (loopback only: the API has no authentication). */
export function parseRuntimeApi(value: string): SocketAddress | string {
  const unix = value.startsWith('unix:') ? value.slice(5) : value;
  if (unix.startsWith('/')) return { path: unix };
  const m = /^(?:tcp:\/\/)?\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value);
  if (!m) return 'expected a unix socket path (/run/haproxy/admin.sock) or host:port of a TCP socket';
  if (!LOOPBACK.test(m[1]!))
    return `expected a loopback address (HAProxy's runtime API has no authentication), got ${m[1]}`;
  return { host: m[1]!, port: Number(m[2]) };
}

export function haproxySpec(
  input: Record<string, unknown>,
  at: readonly PropertyKey[],
  tools: InventoryTools,
): HaproxySpec {
  const raw = input as z.output<typeof haproxySchema>;
  const api = parseRuntimeApi(raw.runtime_api);
  if (typeof api === 'string') tools.report([...at, 'runtime_api'], api);
  const backend = raw.backend ?? raw.frontend;
  return {
    name: raw.name,
    kind: 'haproxy',
    runtimeApi: typeof api === 'string' ? { path: '/' } : 'path' in api ? { path: tools.file(api.path) } : api,
    frontend: raw.frontend,
    backend,
    servers: raw.servers ?? {},
    stateFile: raw.state_file ? tools.file(raw.state_file) : undefined,
    routes: [backend],
    app: raw.app_dsn ? tools.conn(raw.app_dsn, [...at, 'app_dsn']) : undefined,
  };
}

export async function withPasswords(
  spec: HaproxySpec,
  fill: (conn: ConnParams) => Promise<ConnParams>,
): Promise<HaproxySpec> {
  return { ...spec, app: spec.app ? await fill(spec.app) : undefined };
}
