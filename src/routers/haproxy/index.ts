/** HAProxy in TCP mode, registered under the inventory kind `haproxy`. */
import { describeAddress } from '../../shell/socket-address.js';
import type { RouterKind } from '../types.js';
import { APP_LOGIN_SQL, routerAction } from '../types.js';
import { haproxyChecks } from './checks.js';
import { haproxySchema, haproxySpec, withPasswords, type HaproxySpec } from './spec.js';

const api = (spec: HaproxySpec, command: string) =>
  routerAction(spec.name, `runtime API ${describeAddress(spec.runtimeApi)}: ${command}`);
const server = (spec: HaproxySpec, node: string) => `${spec.backend}/${spec.servers[node] ?? `<server of ${node}>`}`;

export const haproxy: RouterKind<HaproxySpec> = {
  kind: 'haproxy',
  schema: haproxySchema,
  toSpec: haproxySpec,
  withPasswords,
  open: async (spec) => new (await import('./router.js')).HaproxyRouter(spec),
  checks: haproxyChecks,
  describe: {
    hold: (spec) => [
      api(
        spec,
        `set maxconn frontend ${spec.frontend} 0  (new clients wait in the listen queue; its maxconn before is kept, also in HAProxy as a proc variable)`,
      ),
    ],
    fence: (spec, from) => [
      api(spec, `set maxconn frontend ${spec.frontend} 0`),
      api(
        spec,
        `shutdown sessions server ${server(spec, from.name)}  (${from.name}'s sessions are dead or hung: cut them)`,
      ),
    ],
    release: (spec) => [
      api(
        spec,
        `set maxconn frontend ${spec.frontend} <its value before the hold>  (on HAProxy before 2.6.20/3.0.6, between disable and enable frontend: haproxy#2726)`,
      ),
    ],
    repoint: (spec, from, to, timeoutMs) => [
      api(
        spec,
        `shutdown sessions server ${server(spec, from.name)}; set server ${server(spec, from.name)} state maint; set server ${server(spec, to.name)} state ready (+ health up if it is checked)  (one request: never two servers ready)`,
      ),
      api(
        spec,
        `show servers state ${spec.backend}  (expect ${to.name} up and every other server in maintenance, within ${Math.max(timeoutMs, 3000)} ms)`,
      ),
      ...(spec.stateFile
        ? [api(spec, `show servers state  -> ${spec.stateFile} (atomic rename; HAProxy loads it on reload)`)]
        : []),
    ],
    verify: (spec) => [
      api(spec, `show servers state ${spec.backend}; show stat ${spec.frontend} 1 -1`),
      ...(spec.app ? [`[${spec.name}] app login: ${APP_LOGIN_SQL}`] : []),
    ],
  },
};
