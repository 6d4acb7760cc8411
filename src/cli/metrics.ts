/**
 * `check --watch`: Prometheus text metrics from each check, on an HTTP endpoint (prom-client's
 * registry and text format). One series per node, router route and procedure; a node that
 * disappears from the inventory drops out at the next check.
 */
import { createServer, type Server } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import type { CheckResult } from '../runner/check.js';

export class CheckMetrics {
  readonly registry = new Registry();
  private readonly gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name: `pg_handover_${name}`, help, labelNames, registers: [this.registry] });
  private readonly up = this.gauge('node_up', '1 if the node answered the last check', ['node']);
  private readonly primary = this.gauge('node_is_primary', '1 if the node is the writable primary', ['node']);
  private readonly streaming = this.gauge('replica_streaming', '1 if the replica streams WAL now', ['node']);
  private readonly lagBytes = this.gauge(
    'replica_lag_bytes',
    'WAL flushed by the primary that the replica has not replayed',
    ['node'],
  );
  private readonly lagSeconds = this.gauge('replica_lag_seconds', 'replay lag of the replica in seconds', ['node']);
  private readonly restart = this.gauge(
    'node_restart_needed',
    "1 if the binaries on the node's host are another version than it runs",
    ['node'],
  );
  private readonly ready = this.gauge('ready', '1 if the procedure could run now', ['procedure']);
  private readonly target = this.gauge('router_target', '1 for the node each router route sends clients to', [
    'router',
    'route',
    'node',
  ]);
  private readonly routerUp = this.gauge('router_up', '1 if the router answered', ['router']);
  private readonly last = this.gauge('last_check_timestamp_seconds', 'when the last check finished (Unix time)');
  private readonly duration = this.gauge('check_duration_seconds', 'how long the last check took');

  update(result: CheckResult): void {
    for (const g of [
      this.up,
      this.primary,
      this.restart,
      this.streaming,
      this.lagBytes,
      this.lagSeconds,
      this.target,
      this.routerUp,
    ])
      g.reset();
    for (const node of result.nodes) {
      this.up.set({ node: node.name }, node.up ? 1 : 0);
      this.primary.set({ node: node.name }, node.role === 'primary' ? 1 : 0);
      if (node.up) this.restart.set({ node: node.name }, node.binaries ? 1 : 0);
      if (node.role !== 'replica') continue;
      this.streaming.set({ node: node.name }, node.streaming ? 1 : 0);
      if (node.lagBytes !== undefined) this.lagBytes.set({ node: node.name }, node.lagBytes);
      if (node.lagSeconds !== undefined && Number.isFinite(node.lagSeconds))
        this.lagSeconds.set({ node: node.name }, node.lagSeconds);
    }
    this.ready.set({ procedure: 'switchover' }, result.switchover.ready ? 1 : 0);
    this.ready.set({ procedure: 'failover' }, result.failover.ready ? 1 : 0);
    for (const router of result.routers) {
      this.routerUp.set({ router: router.name }, router.reachable ? 1 : 0);
      for (const route of router.routes)
        this.target.set({ router: router.name, route: route.route, node: route.node ?? 'unknown' }, 1);
    }
    this.last.set(Date.parse(result.at) / 1000);
    this.duration.set(result.durationMs / 1000);
  }

  /** Serves GET /metrics; resolves once listening. */
  async serve(host: string, port: number): Promise<Server> {
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('see /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return server;
  }
}
