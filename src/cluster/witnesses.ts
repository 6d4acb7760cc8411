/**
 * A failover's witnesses, asked while the tool probes the nodes itself (so a hung primary costs
 * one detection timeout, not two): each router (can it reach the primary through its own server
 * connection?) and each other node's host that the inventory gives access to (does `pg_isready`
 * from there get an answer from the primary's connect_address?). The replicas' WAL receivers are the
 * third kind; they are read with the snapshot (receiversAfter) and judged in the failover's decide.
 */
import type { Inventory, NodeSpec } from '../inventory/model.js';
import { nodeAt } from '../model/cluster-state.js';
import type { WitnessAnswer, Witnesses } from '../model/witness.js';
import { routeTargetOf, type Router } from '../routers/types.js';
import { hostRunnerFor } from '../shell/host.js';
import { resolveHosts } from '../shell/resolve.js';
import { peerAddress } from '../inventory/model.js';

/**
 * pg_isready from the node's bin_dir, else the usual package directories, else PATH. Exit 0
 * (accepting) and 1 (rejecting: starting or stopping) are answers from a live server; 2 is none;
 * each only with pg_isready's own line saying so ("host:port - rejecting connections").
 */
const PG_ISREADY =
  'b=$1; shift; for d in "$b" /usr/lib/postgresql/*/bin /usr/pgsql-*/bin /usr/local/pgsql/bin; do [ -x "$d/pg_isready" ] && exec "$d/pg_isready" "$@"; done; exec pg_isready "$@"';

/** The node the routers send clients to (the one a failover would replace), then its witnesses' answers. */
export async function askWitnesses(
  inventory: Inventory,
  routers: readonly Router[],
  applicationName: string,
  deadlineMs: number,
): Promise<Witnesses | undefined> {
  const started = performance.now();
  const routes = (await Promise.all(routers.map((r) => r.routes().catch(() => [])))).flat();
  if (!routes.length) return undefined;
  const addresses = await resolveHosts([
    ...new Set([
      ...routes.map((r) => r.host),
      ...inventory.nodes.map((n) => peerAddress(n).host),
      ...inventory.nodes.map((n) => n.conn.host),
    ]),
  ]);
  const named = [...new Set(routes.map((r) => nodeAt({ inventory, addresses }, r.host, r.port)))];
  const name = named.length === 1 ? named[0] : undefined;
  const suspect = name ? inventory.nodes.find((n) => n.name === name) : undefined;
  if (!suspect) return undefined;
  const left = Math.max(200, deadlineMs - (performance.now() - started));
  const target = routeTargetOf(suspect, addresses);
  const answers = await Promise.all([
    ...routers.map((router) =>
      router.witness(target, left, applicationName).catch((error: Error): WitnessAnswer => ({
        witness: `pooler ${router.spec.name}`,
        kind: 'pooler',
        verdict: 'unknown',
        detail: error.message,
      })),
    ),
    // The other nodes' hosts: the suspect's own host would only say its server is alive, not that anyone reaches it.
    ...inventory.nodes
      .filter((n) => n.hostAccess && n.name !== suspect.name)
      .map((host) => fromHost(host, suspect, left)),
  ]);
  return {
    suspect: suspect.name,
    answers: answers.map((a) => ({ ...a, ms: Math.round(performance.now() - started) })),
  };
}

async function fromHost(host: NodeSpec, suspect: NodeSpec, deadlineMs: number): Promise<WitnessAnswer> {
  const witness = `host of ${host.name}`;
  const runner = hostRunnerFor(host);
  const { host: address, port } = peerAddress(suspect);
  if (!runner) return { witness, kind: 'host', verdict: 'unknown', detail: 'no host_access' };
  const seconds = String(Math.max(1, Math.ceil(deadlineMs / 1000)));
  const result = await runner
    .run(
      [
        'sh',
        '-c',
        PG_ISREADY,
        'sh',
        host.binDir ?? '',
        '-h',
        address,
        '-p',
        String(port),
        '-t',
        seconds,
        '-d',
        'postgres',
      ],
      { timeoutMs: deadlineMs + 300 },
    )
    .catch((error: Error) => ({ ok: false, exitCode: undefined, timedOut: false, stdout: '', stderr: error.message }));
  return { witness, kind: 'host', ...hostVerdict(result, address, port, deadlineMs) };
}

/** What a host witness's pg_isready run says: an answer from a live server, none, or nothing known. */
export function hostVerdict(
  result: { exitCode?: number; timedOut: boolean; stdout: string; stderr: string },
  address: string,
  port: number,
  deadlineMs: number,
): Pick<WitnessAnswer, 'verdict' | 'detail'> {
  const said = ((result.stdout || result.stderr).trim().split('\n').at(-1) ?? '').replace(/^\S+ - /, '');
  // The exit code alone could be the host runner's own (docker exec on a stopped container and
  // sudo exit 1, a shell's misuse 2): only pg_isready's own words make it an answer.
  const output = `${result.stdout}\n${result.stderr}`;
  const isready = (words: string) => new RegExp(`:${port} - ${words}$`, 'm').test(output);
  if (
    (result.exitCode === 0 && isready('accepting connections')) ||
    (result.exitCode === 1 && isready('rejecting connections'))
  )
    return { verdict: 'reaches', detail: `pg_isready to ${address}:${port}: ${said || 'answered'}` };
  if ((result.exitCode === 2 && isready('no response')) || result.timedOut)
    return {
      verdict: 'cannot-reach',
      detail: `pg_isready to ${address}:${port}: ${result.timedOut ? `no answer within ${deadlineMs} ms` : said || 'no response'}`,
    };
  return { verdict: 'unknown', detail: `pg_isready did not run there: ${said || `exit code ${result.exitCode}`}` };
}
