/** Host names to addresses, as the system resolver (and so libpq and PgBouncer) sees them. */
import { lookup } from 'node:dns/promises';
import { within } from '../util/time.js';

/** Resolves each host name once, as the system resolver does for libpq; a name that does not resolve stands for itself. */
export async function resolveHosts(hosts: readonly string[]): Promise<Record<string, string[]>> {
  const entries = await Promise.all(
    hosts.map(async (host): Promise<readonly [string, string[]]> => {
      if (host.startsWith('/')) return [host, [host]]; // a socket directory
      const found = await within(
        lookup(host, { all: true })
          .then((all): string[] => all.map((a) => a.address))
          .catch((): string[] => []),
        2000,
        [] as string[],
      );
      return [host, found.length ? found : [host]];
    }),
  );
  return Object.fromEntries(entries);
}
