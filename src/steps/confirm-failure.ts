/**
 * confirm-failure — a failover's first step: its parameters drive the decision (the detection
 * timeout used to probe every node, the loss limit), and right before anything changes it asks
 * each witness replica again: one that has heard from the old primary within the detection
 * timeout contradicts "down or hung", and the run stops with nothing changed.
 * Precondition: none. Effect: none. Undo: nothing to undo.
 */
import { StepFailedError } from '../errors.js';
import { bytes, duration, stepParams } from '../playbook/fields.js';
import { readReceiver } from '../postgres/observe.js';
import { formatMs } from '../util/time.js';
import { sqlText, type Action, type StepDefinition, perform } from './types.js';

const schema = stepParams('confirm-failure', {
  /** A connection or query the old primary does not answer within this is "hung"; replicas that heard from it more recently contradict. */
  timeout: duration('2s'),
  /** Refuse when the candidate lacks more than this of the most advanced position known, unless --accept-data-loss. */
  max_data_loss_bytes: bytes.default(1024 * 1024),
});

const RECEIVER_TEXT = 'SELECT status, clock_timestamp() - last_msg_receipt_time FROM pg_stat_wal_receiver';

export const confirmFailureStep: StepDefinition<typeof schema> = {
  schema,
  title: (_s, plan) => `confirm ${plan.primary.name} is ${plan.incident?.silence === 'timeout' ? 'hung' : 'down'}`,
  actions: (step, plan): Action<Record<string, never>>[] => [
    {
      text: `[tool] ${plan.primary.name}: ${plan.incident?.silence === 'timeout' ? `no answer within ${formatMs(step.timeout)} (hung)` : `connection ${plan.incident?.silence ?? 'failed'}`}  (observed when the run started)`,
    },
    ...(plan.incident?.witnesses ?? []).map((name): Action<Record<string, never>> => ({
      text: `${sqlText(name, RECEIVER_TEXT)}  (must not have heard from ${plan.primary.name} within ${formatMs(step.timeout)})`,
      run: async (ctx) => {
        const { receiver } = await readReceiver(await ctx.connections.node(name), step.timeout);
        if (
          receiver?.status === 'streaming' &&
          receiver.lastMsgAgeMs !== undefined &&
          receiver.lastMsgAgeMs < step.timeout
        ) {
          throw new StepFailedError(
            `${name} heard from its upstream ${Math.round(receiver.lastMsgAgeMs)} ms ago: ${ctx.primary.name} is not down to its replicas; not failing over`,
          );
        }
      },
    })),
  ],
  async run(_step, ctx, out, actions) {
    await Promise.all(actions.map((a) => perform(a, ctx, out)));
    const witnesses = ctx.incident?.witnesses ?? [];
    return witnesses.length
      ? `${witnesses.join(', ')} still hear nothing from ${ctx.primary.name}`
      : `no replica could confirm; the tool's view alone`;
  },
};
