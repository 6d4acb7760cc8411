/** A node as routers name it, and the port a login through a router reports when a relay or NAT is in between. */
import { describe, expect, it } from 'vitest';
import { routeTargetOf, servesOn } from '../../src/routers/types.js';
import { inventory, primary } from './support/cluster-fixtures.js';

const pg1 = inventory().nodes[0]!;

describe('route target', () => {
  it('is the routers port when the server listens on it', () => {
    const target = routeTargetOf(pg1, {}, [primary('pg1', { settings: { port: String(pg1.conn.port) } })]);
    expect(target.serverPort).toBeUndefined();
    expect(servesOn(target, pg1.conn.port)).toBe(true);
    expect(servesOn(target, 5432)).toBe(false);
  });

  it("also accepts the server's own port when the routers reach it through a forward", () => {
    const target = routeTargetOf(pg1, {}, [primary('pg1', { settings: { port: '5432' } })]);
    expect(target).toMatchObject({ port: pg1.conn.port, serverPort: 5432 });
    expect(servesOn(target, 5432)).toBe(true);
    expect(servesOn(target, pg1.conn.port)).toBe(true);
    expect(servesOn(target, 5433)).toBe(false);
  });

  it('knows only the routers port for a node it did not observe', () => {
    const target = routeTargetOf(pg1, {}, [{ name: 'pg1', reachable: false, error: 'down' } as never]);
    expect(target.serverPort).toBeUndefined();
    expect(servesOn(target, 5432)).toBe(false);
  });
});
