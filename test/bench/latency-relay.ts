/**
 * A TCP relay that adds latency (tc netem does not work here): it listens on a loopback port and
 * forwards each connection to `to`, delaying every chunk by half the round trip in each
 * direction, in order. Connecting is instant (the relay accepts locally), as an established
 * long-distance path's handshake is not what the tests measure; every message after it pays.
 */
import net from 'node:net';

export interface LatencyRelay {
  readonly port: number;
  /** Round trip added, in ms (changeable while running: a path that gets slower). */
  rttMs: number;
  close(): Promise<void>;
}

export async function startLatencyRelay(
  to: { host: string; port: number },
  rttMs: number,
  listenPort = 0,
): Promise<LatencyRelay> {
  const sockets = new Set<net.Socket>();
  const relay: LatencyRelay = {
    port: 0,
    rttMs,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  /** Writes each chunk after the one-way delay; timers of equal delay fire in order. */
  const delayed = (from: net.Socket, into: net.Socket) => {
    from.on('data', (chunk) => {
      const oneWay = relay.rttMs / 2;
      if (oneWay <= 0) into.write(chunk);
      else setTimeout(() => into.destroyed || into.write(chunk), oneWay);
    });
    from.on('end', () => setTimeout(() => into.end(), relay.rttMs / 2));
    from.on('error', () => into.destroy());
    from.on('close', () => setTimeout(() => into.destroy(), relay.rttMs / 2));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(to.port, to.host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    delayed(client, upstream);
    delayed(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  (relay as { port: number }).port = (server.address() as net.AddressInfo).port;
  return relay;
}
