/**
 * A line-oriented runtime socket (HAProxy's runtime API): one connection per request, the
 * request one line (commands separated by ";"), the answer everything until the server closes.
 * A unix socket path or a TCP host:port; bounded by a timeout, so a hung proxy fails the call.
 */
import { connect, type Socket } from 'node:net';

import { describeAddress, type SocketAddress } from './socket-address.js';

export { describeAddress, type SocketAddress };

export class SocketRequestError extends Error {}

export function request(address: SocketAddress, line: string, timeoutMs: number): Promise<string> {
  if (line.includes('\n')) throw new SocketRequestError('a request is one line');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket: Socket =
      'path' in address ? connect({ path: address.path }) : connect({ host: address.host, port: address.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SocketRequestError(`${describeAddress(address)}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.end(`${line}\n`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new SocketRequestError(`${describeAddress(address)}: ${error.code ?? error.message}`));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}
