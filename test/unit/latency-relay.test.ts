/** The benchmark's latency relay: a round trip through it takes the added round trip, and bytes arrive in order. */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatencyRelay, type LatencyRelay } from '../bench/latency-relay.js';

let echo: net.Server;
let relay: LatencyRelay;

beforeAll(async () => {
  echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
  relay = await startLatencyRelay({ host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port }, 40);
});
afterAll(async () => {
  await relay.close();
  await new Promise((resolve) => echo.close(resolve));
});

const roundTrip = (port: number, messages: string[]): Promise<{ ms: number; text: string }> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const expected = messages.join('');
    let text = '';
    let sent = 0;
    socket.on('connect', () => {
      sent = performance.now();
      for (const m of messages) socket.write(m);
    });
    socket.on('data', (d) => {
      text += d.toString();
      if (text.length >= expected.length) {
        socket.destroy();
        resolve({ ms: performance.now() - sent, text });
      }
    });
    socket.on('error', reject);
  });

describe('latency relay', () => {
  it('adds its round trip to each exchange and keeps the order of bytes', async () => {
    const { ms, text } = await roundTrip(relay.port, ['a', 'b', 'c', 'd']);
    expect(text).toBe('abcd');
    expect(ms).toBeGreaterThanOrEqual(38);
  });

  it('takes a new round trip while running', async () => {
    relay.rttMs = 0;
    // The quickest of five: one trip on a loaded machine can take tens of ms by itself (seen: a CI flake beside a soak).
    let fast = Infinity;
    for (let i = 0; i < 5; i++) fast = Math.min(fast, (await roundTrip(relay.port, ['x'])).ms);
    relay.rttMs = 80;
    const slow = await roundTrip(relay.port, ['y']);
    expect(slow.ms).toBeGreaterThanOrEqual(78);
    expect(slow.ms - fast).toBeGreaterThan(50);
  });
});
