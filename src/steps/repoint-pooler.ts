/**
 * repoint-pooler — points every pooled database of every pooler at the new primary: rewrites
 * host/port in the config file atomically, RELOADs, and checks SHOW DATABASES. A failed server
 * login would make PgBouncer refuse the pool for server_login_retry, so the new primary's logins
 * are proven before the pause (the run's own fresh sessions) and its liveness just now (promote
 * polled it on a held session). Precondition: promoted. Undo: none (past the point of no return).
 */
import { StepFailedError, TimeoutError } from '../errors.js';
import { within } from '../util/time.js';
import { repointConfigFile } from '../pooler/config-file.js';
import { adminAction, type StepDefinition } from './types.js';

export const repointPoolerStep: StepDefinition<'repoint-pooler'> = {
  kind: 'repoint-pooler',
  title: (_s, plan) => `repoint pooler to ${plan.target.name}`,
  describe: (step, plan) => plan.inventory.poolers.flatMap((p) => [
    `[${p.name}] file: ${p.configFile}: [databases] ${p.databases.join(', ')} -> host=${plan.target.conn.host} port=${plan.target.conn.port} (atomic rename)`,
    adminAction(p.name, 'RELOAD'),
    adminAction(p.name, `SHOW DATABASES  (expect the new host/port; all poolers within ${step.timeout} ms)`),
  ]),
  async run(step, ctx) {
    const { host, port } = ctx.target.conn;
    // Bounded: a pooler that hangs on RELOAD must not hold the others' clients past the budget.
    await within<unknown>(Promise.all(ctx.inventory.poolers.map(async (spec) => {
      await repointConfigFile(spec.configFile, spec.databases, host, port);
      const admin = await ctx.connections.pooler(spec.name).catch((error: Error) => {
        ctx.facts.leftToDo.push(`${spec.name}: its config file already points at ${ctx.target.name}, but its admin console is unreachable (${error.message}): start PgBouncer (or RELOAD it) and RESUME ${spec.databases.join(', ')}`);
        throw error;
      });
      await admin.reload();
      const live = await admin.showDatabases();
      const wrong = spec.databases.filter((db) => {
        const entry = live.find((d) => d.name === db);
        return !entry || entry.port !== port || entry.host !== host;
      });
      if (wrong.length) throw new StepFailedError(`${spec.name}: after RELOAD, ${wrong.join(', ')} still not at ${host}:${port}`);
      ctx.facts.repointed.add(spec.name);
    })), step.timeout, 'timeout').then((result) => {
      if (result === 'timeout') throw new TimeoutError(`repointing the poolers did not finish within ${step.timeout} ms`);
    });
    return `${ctx.inventory.poolers.map((p) => p.name).join(', ')} -> ${ctx.target.name} (${host}:${port})`;
  },
};
