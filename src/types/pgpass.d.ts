declare module 'pgpass/lib/helper.js' {
  import type { Readable } from 'node:stream';
  export function getPassword(
    connInfo: { host: string; port: number; database: string; user: string },
    stream: Readable,
    callback: (password: string | undefined) => void,
  ): void;
}
