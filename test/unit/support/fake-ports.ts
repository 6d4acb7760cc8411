/**
 * Fake ports for steps (src/steps/ports.ts): nodes that answer SQL from a script, routers that
 * record what they were asked. With them the effects that keep the invariants run in milliseconds.
 */
import type { Router } from '../../../src/routers/types.js';
import { newOutputs, type Outputs } from '../../../src/steps/outputs.js';
import type { ClusterPorts, NodeSql, Writability } from '../../../src/steps/ports.js';
import type { PlanContext, StepContext } from '../../../src/steps/types.js';

/** Answers one statement: rows, or throws. `sql` is the exact text the step sent. */
export type Answer = (sql: string, params: unknown[]) => Array<Record<string, unknown>>;

export class FakeNode implements NodeSql {
  readonly sent: string[] = [];
  isOpen = true;
  constructor(private readonly answer: Answer) {}
  async query<Row extends object>(sql: string, params: unknown[] = []): Promise<Row[]> {
    this.sent.push(sql);
    return this.answer(sql, params) as Row[];
  }
  async one<Row extends object>(sql: string, params: unknown[] = []): Promise<Row> {
    const rows = await this.query<Row>(sql, params);
    if (!rows[0]) throw new Error(`no row for ${sql}`);
    return rows[0];
  }
}

export class FakeRouter {
  readonly calls: string[] = [];
  constructor(readonly name: string) {}
  async hold(): Promise<void> {
    this.calls.push('hold');
  }
  async release(): Promise<string> {
    this.calls.push('release');
    return `${this.name} released`;
  }
  async repoint(): Promise<void> {
    this.calls.push('repoint');
  }
}

export interface FakeCluster {
  readonly ctx: StepContext;
  readonly nodes: Record<string, FakeNode>;
  readonly routers: Record<string, FakeRouter>;
  readonly journal: Array<{ event: string; data?: Record<string, unknown> }>;
}

export function fakeCluster(
  plan: PlanContext,
  nodes: Record<string, Answer>,
  options: { writable?: Record<string, Writability>; outputs?: Outputs } = {},
): FakeCluster {
  const fakeNodes = Object.fromEntries(Object.entries(nodes).map(([name, answer]) => [name, new FakeNode(answer)]));
  const routers = Object.fromEntries(plan.inventory.poolers.map((p) => [p.name, new FakeRouter(p.name)]));
  const journal: FakeCluster['journal'] = [];
  const ports: ClusterPorts = {
    applicationName: 'pg-handover test',
    node: async (name) => {
      const node = fakeNodes[name];
      if (!node) throw new Error(`${name}: cannot connect`);
      return node;
    },
    held: (name) => fakeNodes[name],
    reach: async (name) => fakeNodes[name],
    router: (name) => routers[name] as unknown as Router,
    inDatabase: async (node, _db, use) => use(fakeNodes[node.name]!),
    observe: async () => plan.state,
    askWritable: async (name) => {
      const seen = options.writable?.[name];
      if (!seen) throw new Error(`${name}: no answer`);
      return seen;
    },
  };
  const ctx: StepContext = {
    ...plan,
    connections: ports,
    outputs: options.outputs ?? newOutputs(),
    noReturn: { requested: false, confirmed: false },
    log: { notes: [], leftToDo: [], degraded: [] },
    signal: new AbortController().signal,
    runId: 'test-run',
    applicationName: 'pg-handover test',
    host: () => undefined,
    record: (event, data) => journal.push({ event, data }),
  };
  return { ctx, nodes: fakeNodes, routers, journal };
}
