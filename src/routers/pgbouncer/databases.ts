/** A pooled database as PgBouncer reports it (SHOW DATABASES). */
export interface PoolerDatabase {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly paused: boolean;
  readonly disabled: boolean;
}
