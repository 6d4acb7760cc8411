/** A runtime socket's address, and how it is written: pure, so describing one loads no socket code. */
export type SocketAddress = { readonly path: string } | { readonly host: string; readonly port: number };

export const describeAddress = (address: SocketAddress): string =>
  'path' in address ? address.path : `${address.host}:${address.port}`;
