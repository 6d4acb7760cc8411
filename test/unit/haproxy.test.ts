/** HAProxy's runtime API answers parsed, its inventory entry, and its preflight checks. Pure. */
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../../src/errors.js';
import { buildInventory } from '../../src/inventory/load.js';
import type { ClusterState } from '../../src/model/cluster-state.js';
import type { RouterState } from '../../src/model/router.js';
import { haproxyChecks } from '../../src/routers/haproxy/checks.js';
import type { HaproxyDetail } from '../../src/routers/haproxy/router.js';
import {
  inMaint,
  maxconnDeadlocks,
  parseServersState,
  parseStatCsv,
  statusOf,
  usable,
  type ServerState,
} from '../../src/routers/haproxy/runtime-state.js';
import { parseRuntimeApi, type HaproxySpec } from '../../src/routers/haproxy/spec.js';
import { parseYamlText } from '../../src/util/yaml-source.js';
import { cluster, primary, replica } from './support/cluster-fixtures.js';

// As HAProxy 2.6.12 printed it for the sandbox: pg1 ready and up, pg2 and pg3 `disabled` in the config.
const SERVERS_STATE = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 pg_primary 1 pg1 127.0.0.1 2 0 1 1 2 6 3 2 6 0 0 0 - 5001 - 0 0 - - 0
3 pg_primary 2 pg2 127.0.0.1 0 5 1 1 2 1 0 0 14 0 0 0 - 5002 - 0 0 - - 0
3 pg_primary 3 pg3 127.0.0.1 0 5 1 1 2 1 0 0 14 0 0 0 - 5003 - 0 0 - - 0

`;

describe('HAProxy runtime API answers', () => {
  it('show servers state: addresses, op and admin states, checks', () => {
    const servers = parseServersState(SERVERS_STATE);
    expect(servers.map((s) => [s.name, s.addr, s.port, statusOf(s), s.checked])).toEqual([
      ['pg1', '127.0.0.1', 5001, 'UP', true],
      ['pg2', '127.0.0.1', 5002, 'MAINT', true],
      ['pg3', '127.0.0.1', 5003, 'MAINT', true],
    ]);
    expect(usable(servers[0]!)).toBe(true);
    // `disabled` in the config (0x04) alone, after "state ready": not in maintenance.
    expect(inMaint({ ...servers[1]!, adminState: 4, opState: 2 })).toBe(false);
    expect(() => parseServersState("Can't find backend.\n")).toThrow("Can't find backend.");
  });

  it('show stat: the frontend row by field name', () => {
    const rows = parseStatCsv('# pxname,svname,qcur,qmax,scur,smax,slim\npg_write,FRONTEND,,,0,1,1000\n\n');
    expect(rows).toEqual([
      { pxname: 'pg_write', svname: 'FRONTEND', qcur: '', qmax: '', scur: '0', smax: '1', slim: '1000' },
    ]);
  });

  it('which versions deadlock when a frontend maxconn is raised with a client waiting (haproxy#2726)', () => {
    expect(['2.6.12-1+deb12u4', '2.6.19', '2.8.5', '3.0.5', '2.4.22'].map(maxconnDeadlocks)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(['2.6.20', '3.0.6', '3.1.0', '3.2.4', '2.2.33'].map(maxconnDeadlocks)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('HAProxy inventory entry', () => {
  const inventory = (entry: string) =>
    buildInventory(
      parseYamlText(
        `cluster: c\nnodes:\n  - name: pg1\n    dsn: host=127.0.0.1 port=5001 user=h dbname=postgres\n  - name: pg2\n    dsn: host=127.0.0.1 port=5002 user=h dbname=postgres\npoolers:\n  - name: hx\n    kind: haproxy\n${entry}`,
        'inv.yaml',
        'inventory',
      ),
      {},
    );

  it('a unix socket or a loopback TCP socket; the backend defaults to the frontend (a listen section)', async () => {
    const spec = (await inventory('    runtime_api: /run/haproxy/admin.sock\n    frontend: pg_rw\n'))
      .poolers[0] as HaproxySpec;
    expect(spec).toMatchObject({
      kind: 'haproxy',
      runtimeApi: { path: '/run/haproxy/admin.sock' },
      frontend: 'pg_rw',
      backend: 'pg_rw',
      routes: ['pg_rw'],
    });
    expect(parseRuntimeApi('tcp://127.0.0.1:9999')).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(parseRuntimeApi('unix:/x.sock')).toEqual({ path: '/x.sock' });
  });

  it('refuses a runtime API off loopback, naming the field (it has no authentication)', async () => {
    const error = await inventory('    runtime_api: 10.0.0.5:9999\n    frontend: pg_rw\n').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadInputError);
    expect((error as Error).message).toMatch(/poolers\[0\]\.runtime_api.*loopback/);
  });
});

describe('HAProxy preflight checks', () => {
  const spec: HaproxySpec = {
    name: 'hx',
    kind: 'haproxy',
    runtimeApi: { path: '/s' },
    frontend: 'fe',
    backend: 'pg_primary',
    servers: {},
    stateFile: '/var/lib/haproxy/servers.state',
    routes: ['pg_primary'],
  };
  const observed = (servers: ServerState[], over: Partial<HaproxyDetail> = {}): RouterState => ({
    name: 'hx',
    kind: 'haproxy',
    reachable: true,
    routes: [{ name: 'pg_primary', host: '127.0.0.1', port: 5001, paused: (over.frontendMaxconn ?? 1000) === 0 }],
    detail: {
      version: '3.1.2',
      level: 'admin',
      frontendMaxconn: 1000,
      servers,
      resolved: {},
      ...over,
    } satisfies HaproxyDetail,
  });
  const state = (): ClusterState => {
    const c = cluster([primary(), replica('pg2'), replica('pg3')]);
    return { ...c, inventory: { ...c.inventory, poolers: [spec] } };
  };
  const run = (servers: ServerState[], over: Partial<HaproxyDetail> = {}) => {
    const s = state();
    return haproxyChecks(observed(servers, over), { state: s, primary: s.nodes[0] as never, pauseBudgetMs: 10_000 });
  };
  const failed = (checks: ReturnType<typeof run>) =>
    checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.verdict} ${c.id}: ${c.message}`);

  it('passes when only the primary is ready', () => {
    expect(failed(run(parseServersState(SERVERS_STATE)))).toEqual([]);
  });

  it('in a failover (no live primary): the server the backend sends clients to is the one being replaced, down is expected', () => {
    const servers = parseServersState(SERVERS_STATE).map((s) => (s.name === 'pg1' ? { ...s, opState: 0 } : s));
    const s = state();
    // (pooler-points-at-primary is the failover's own to judge: procedures/failover/decide.ts)
    const checks = haproxyChecks(observed(servers), { state: s, primary: undefined, pauseBudgetMs: 10_000 }).filter(
      (c) => c.id.startsWith('haproxy-'),
    );
    expect(failed(checks)).toEqual([]);
  });

  it('refuses a replica left ready, naming its server', () => {
    const servers = parseServersState(SERVERS_STATE).map((s) =>
      s.name === 'pg3' ? { ...s, adminState: 0, opState: 2 } : s,
    );
    expect(failed(run(servers))).toEqual([
      expect.stringMatching(/^fail haproxy-only-primary: .*pg_primary\/pg3 \(pg3, not the primary\) is UP, not MAINT/),
    ]);
  });

  it('refuses a primary without a server, a held frontend and a read-only API level; warns on 2.6.12', () => {
    const servers = parseServersState(SERVERS_STATE).filter((s) => s.name !== 'pg1');
    const out = failed(run(servers, { frontendMaxconn: 0, level: 'operator', version: '2.6.12-1+deb12u4' }));
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^fail haproxy-api-level: .*level operator/),
        expect.stringMatching(/^fail haproxy-servers: .*no server for the primary pg1/),
        expect.stringMatching(/^fail pooler-not-paused/),
        expect.stringMatching(/^warn haproxy-maxconn-release: .*haproxy#2726/),
      ]),
    );
  });
});
