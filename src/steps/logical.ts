/**
 * Logical replication between the two sides of a major upgrade (shared by its step kinds): which
 * side subscribes to which, per database. The publication is `pg_handover_upgrade` on whichever
 * side publishes; the subscription (and its slot on the publisher) `pg_handover_upgrade_<db>` on
 * whichever side subscribes. A cutover turns the direction around, so the way back is replication
 * already running, not a new copy.
 */
import type { NodeSpec } from '../inventory/model.js';
import { PUBLICATION, subscriptionName } from '../model/logical.js';
import type { NodeSql } from './ports.js';
import type { StepContext } from './types.js';
import { quoteLiteral, SET_READ_ONLY_SQL } from '../postgres/sql.js';

/** A session to `database` on `node` for one action (the run's held sessions are to each node's own database). */
export const inDatabase = <T>(
  ctx: Pick<StepContext, 'connections'>,
  node: NodeSpec,
  database: string,
  use: (s: NodeSql) => Promise<T>,
): Promise<T> => ctx.connections.inDatabase(node, database, use);

export const createPublicationSql = `CREATE PUBLICATION ${PUBLICATION} FOR ALL TABLES`;
export const subscribeSql = (database: string, conninfo: string): string =>
  `CREATE SUBSCRIPTION ${subscriptionName(database)} CONNECTION ${quoteLiteral(conninfo)} PUBLICATION ${PUBLICATION} WITH (copy_data = false)`;
/** Drops the subscription and, on the publisher, its slot (so no WAL piles up there). */
export const unsubscribeSql = (database: string): string => `DROP SUBSCRIPTION IF EXISTS ${subscriptionName(database)}`;

export async function hasSubscription(session: NodeSql, database: string): Promise<boolean> {
  return (
    await session.one<{ found: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_subscription WHERE subname = $1) AS found', [
      subscriptionName(database),
    ])
  ).found;
}

export async function hasPublication(session: NodeSql): Promise<boolean> {
  return (
    await session.one<{ found: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1) AS found', [
      PUBLICATION,
    ])
  ).found;
}

/**
 * `subscriber` subscribes to `publisher` (copy_data = false: it has everything) and nothing flows
 * the other way: `publisher`'s own subscription is dropped first, so no change loops back. The
 * subscriber is (or stays) read-only: clients write on one side only; its apply worker still applies.
 */
export async function replicateFromTo(
  ctx: StepContext,
  publisher: NodeSpec,
  subscriber: NodeSpec,
  database: string,
  conninfo: string,
): Promise<void> {
  await inDatabase(ctx, publisher, database, async (s) => {
    await s.query(unsubscribeSql(database));
    if (!(await hasPublication(s))) await s.query(createPublicationSql);
  });
  await inDatabase(ctx, subscriber, database, async (s) => {
    if (!(await hasSubscription(s, database))) await s.query(subscribeSql(database, conninfo));
    await s.query(READ_ONLY_SQL);
    await s.query('SELECT pg_reload_conf()');
  });
}

export const READ_ONLY_SQL = SET_READ_ONLY_SQL;
