/** The failover's own flags; the CLI registers them from here (loaded for --help, so no imports). */
import type { ProcedureOptionsSpec } from '../types.js';

export interface FailoverOptions {
  /** --accept-data-loss: proceed beyond the loss limit (said as a warning). */
  readonly acceptDataLoss: boolean;
}

export const failoverOptions: ProcedureOptionsSpec<FailoverOptions> = {
  flags: [
    {
      flags: '--accept-data-loss',
      description:
        'fail over even when the candidate lacks more than max_data_loss_bytes, or a synchronous standby is not the candidate',
    },
  ],
  parse: (raw) => ({ acceptDataLoss: raw.acceptDataLoss === true }),
};
