/** Polling a node until a condition holds, tolerating one dropped connection (reopened). */
import { TimeoutError } from '../errors.js';
import { NodeQueryError } from '../postgres/errors.js';
import type { NodeSql } from './ports.js';
import { sleep } from '../util/time.js';
import type { StepContext } from './types.js';

export interface PollOptions<T> {
  readonly node: string;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly what: string;
  readonly signal?: AbortSignal;
  readonly probe: (session: NodeSql) => Promise<T>;
  readonly done: (value: T) => boolean;
  /** Describes the last value seen, for the timeout message. */
  readonly describe?: (value: T | undefined) => string;
}

export async function pollNode<T>(ctx: Pick<StepContext, 'connections'>, options: PollOptions<T>): Promise<T> {
  const deadline = performance.now() + options.timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  let reconnects = 0;
  for (;;) {
    try {
      const session = await ctx.connections.node(options.node);
      last = await options.probe(session);
      if (options.done(last)) return last;
    } catch (error) {
      // A connection that drops once (network blip, restart) is retried within the deadline.
      if (!(error instanceof NodeQueryError) || ++reconnects > 5) throw error;
      lastError = error;
      await sleep(50, options.signal);
    }
    if (performance.now() > deadline) {
      const seen = options.describe ? `; last seen: ${options.describe(last)}` : '';
      const error = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new TimeoutError(`${options.what} did not happen within ${options.timeoutMs} ms${seen}${error}`);
    }
    await sleep(options.intervalMs, options.signal);
  }
}
