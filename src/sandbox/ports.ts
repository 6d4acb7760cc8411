/**
 * Loopback ports for a sandbox's servers. A port found free can be taken as an ephemeral port
 * by other traffic before the server binds it (the sandbox takes seconds between choosing and
 * starting), so a start whose bind failed runs again on a fresh port.
 */
import getPort from 'get-port';
import { EnvironmentError } from '../errors.js';

/** A server could not bind its port: someone else holds it now. */
export class PortTakenError extends EnvironmentError {}

/** What PostgreSQL, PgBouncer and HAProxy write when their bind fails. */
export const BIND_FAILED = /Address already in use|cannot bind socket/;

export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await getPort({ host: '127.0.0.1', exclude: ports });
    ports.push(port);
  }
  return ports;
}

/** `start(port)`, and again on a fresh port while it throws PortTakenError (at most `attempts` in all). */
export async function onFreePort<T>(port: number, start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(port);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= attempts) throw error;
      [port] = (await freePorts(1)) as [number];
    }
  }
}
